/* A folder of PNG images with one subfolder per class, as torchvision's ImageFolder:
 * the sorted subfolder names are the classes, label k = k-th name. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/readers.h"
#include "jempp/png.h"

typedef struct {
    char **items;
    int n, cap;
} str_list;

static void list_free(str_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int list_push(str_list *l, const char *s)
{
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 16;
        char **ni = realloc(l->items, (size_t)ncap * sizeof(char *));
        if (!ni) return -1;
        l->items = ni;
        l->cap = ncap;
    }
    l->items[l->n] = strdup(s);
    if (!l->items[l->n]) return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && strcasecmp(s + n - 4, ".png") == 0;
}

/* Sorted entries of dir that are folders (want_dirs) or .png files, hidden ones skipped. */
static jp_status list_dir(str_list *out, const char *dir, int want_dirs, jp_error *err)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return jp_fail(err, JP_ERR_IO, "%s: cannot open the folder", dir);
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int ok = want_dirs ? jp_dir_exists(path) : (is_png_name(e->d_name) && jp_file_exists(path));
        if (ok && list_push(out, e->d_name) != 0) {
            closedir(d);
            list_free(out);
            return jp_fail(err, JP_ERR_NOMEM, "%s: out of memory listing the folder", dir);
        }
    }
    closedir(d);
    if (out->n > 1) qsort(out->items, (size_t)out->n, sizeof(char *), cmp_str);
    return JP_OK;
}

jp_status jp_folder_read(jp_raw_set *r, const char *dir, const jp_raw_set *classes,
                         jp_error *err)
{
    memset(r, 0, sizeof *r);
    str_list cls, files = {0};
    int *file_class = NULL;
    jp_image img = {0};
    char path[4096], first[4096];
    jp_status s = list_dir(&cls, dir, 1, err);
    if (s != JP_OK) return s;
    if (cls.n == 0) {
        list_free(&cls);
        return jp_fail(err, JP_ERR_FORMAT, "%s: no class subfolders: expected %s/<class>/*.png",
                       dir, dir);
    }
    if (classes) {
        int same = cls.n == classes->n_classes && classes->class_names;
        for (int k = 0; same && k < cls.n; k++) same = strcmp(cls.items[k], classes->class_names[k]) == 0;
        if (!same) {
            char found[512] = "", want[512] = "";
            size_t a = 0, b = 0;
            for (int k = 0; k < cls.n && a < sizeof found; k++)
                a += (size_t)snprintf(found + a, sizeof found - a, "%s%s", k ? " " : "", cls.items[k]);
            for (int k = 0; k < classes->n_classes && classes->class_names && b < sizeof want; k++)
                b += (size_t)snprintf(want + b, sizeof want - b, "%s%s", k ? " " : "",
                                      classes->class_names[k]);
            list_free(&cls);
            return jp_fail(err, JP_ERR_FORMAT, "%s: class folders [%s] differ from the training "
                           "classes [%s]", dir, found, want);
        }
    }
    int cap = 0;
    for (int k = 0; k < cls.n; k++) {
        str_list f;
        snprintf(path, sizeof path, "%s/%s", dir, cls.items[k]);
        s = list_dir(&f, path, 0, err);
        if (s != JP_OK) goto done;
        if (f.n == 0) {
            list_free(&f);
            s = jp_fail(err, JP_ERR_FORMAT, "%s: class folder holds no .png files", path);
            goto done;
        }
        if (files.n + f.n > cap) {
            cap = (files.n + f.n) * 2;
            int *nc = realloc(file_class, (size_t)cap * sizeof(int));
            if (!nc) {
                list_free(&f);
                s = jp_fail(err, JP_ERR_NOMEM, "out of memory");
                goto done;
            }
            file_class = nc;
        }
        for (int i = 0; i < f.n; i++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, cls.items[k], f.items[i]);
            file_class[files.n] = k;
            if (list_push(&files, path) != 0) {
                list_free(&f);
                s = jp_fail(err, JP_ERR_NOMEM, "out of memory");
                goto done;
            }
        }
        list_free(&f);
    }
    for (int i = 0; i < files.n; i++) {
        s = jp_png_read(&img, files.items[i], err);
        if (s != JP_OK) goto done;
        int ch = img.channels == 2 ? 1 : img.channels == 4 ? 3 : img.channels; /* drop alpha */
        if (i == 0) {
            snprintf(first, sizeof first, "%s", files.items[0]);
            s = jp_raw_alloc(r, files.n, ch, img.h, img.w, cls.n, err);
            if (s != JP_OK) goto done;
        } else if (img.w != r->w || img.h != r->h || ch != r->c) {
            s = jp_fail(err, JP_ERR_SHAPE, "%s: image is %dx%d with %d channel%s, expected %dx%d "
                        "with %d channel%s like %s (alpha is ignored)", files.items[i], img.w,
                        img.h, ch, ch > 1 ? "s" : "", r->w, r->h, r->c, r->c > 1 ? "s" : "",
                        first);
            goto done;
        }
        size_t hw = (size_t)img.w * img.h;
        unsigned char *q = r->pix + (size_t)i * hw * (size_t)ch;
        for (size_t p = 0; p < hw; p++)
            for (int k = 0; k < ch; k++) q[(size_t)k * hw + p] = img.pixels[p * (size_t)img.channels + k];
        r->y[i] = file_class[i];
        jp_image_free(&img);
    }
    s = jp_raw_set_names(r, (const char *const *)cls.items, cls.n, err);
done:
    jp_image_free(&img);
    if (s != JP_OK) jp_raw_free(r);
    list_free(&cls);
    list_free(&files);
    free(file_class);
    return s;
}
