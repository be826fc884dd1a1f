/* Run reports: one self-contained HTML page per training run (jempp report), and a
 * Markdown table comparing evaluation folders side by side (jempp compare, at the end).
 *
 * The page gathers what `jempp train` wrote into a run folder (config.json,
 * result.json, metrics.csv / metrics.jsonl, epochs.csv, curve and sample PNGs) and what
 * `jempp eval --out DIR` wrote into evaluation folders (test_clf.json, cali.json,
 * ood.json, samples.json, attack.json, fid.json, predict.csv and their pictures).
 * Everything is inside the one file: PNGs as base64 data: URIs, CSS inline, charts as
 * inline SVG; no JavaScript and no external links, so it opens anywhere, offline, and
 * can be mailed or archived on its own. Every string taken from a file is HTML-escaped.
 *
 * A missing piece (a run that stopped early, a classifier without samples) is said in
 * the page, never an error; a corrupt file is named in the page with the parse error
 * (and on opts.log as a warning), and the rest of the page is still written. */
#ifndef JEMPP_REPORT_H
#define JEMPP_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "jempp/core.h"

typedef struct {
    const char *run_dir;          /* the training run's folder (required) */
    const char *out;              /* NULL or "": <run_dir>/report.html */
    const char *title;            /* NULL or "": the run folder's name */
    const char *const *eval_dirs; /* evaluation folders besides run_dir's subfolders */
    int n_eval_dirs;
    int max_sample_grids;         /* training sample grids embedded: the latest ones */
    int max_animation_frames;     /* frames of an evaluation's animation/ folder */
    size_t max_image_bytes;       /* a larger PNG is not embedded; a note says so */
    size_t max_total_image_bytes; /* past this many PNG bytes, images are only named */
    FILE *log;                    /* warnings ("jempp report: warning: ...") or NULL */
} jp_report_opts;

/* What was written (for the command's one-line summary and for tests). */
typedef struct {
    char path[1100]; /* the page */
    size_t bytes;
    int images;    /* PNGs embedded */
    int eval_dirs; /* evaluation folders shown */
    int warnings;  /* problems named in the page (corrupt or unreadable files) */
} jp_report_info;

/* 12 sample grids, 4 animation frames, 8 MB per image, 48 MB of images, no log. */
void jp_report_opts_defaults(jp_report_opts *o);

/* Writes the page atomically (io/atomic_file.h). JP_ERR_ARG naming the path when
 * run_dir is missing, not a folder, or holds none of config.json, metrics.csv and
 * result.json, or when an eval_dirs entry is not a folder; JP_ERR_IO when the page
 * cannot be written; JP_ERR_NOMEM. info may be NULL. */
jp_status jp_report_write(const jp_report_opts *o, jp_report_info *info, jp_error *err);

/* ---- comparison table (jempp compare) ------------------------------------------------ */
/* One GitHub Markdown table, one column per evaluation folder, from the JSON that
 * `jempp eval --out DIR/<mode>` (or --out DIR) wrote: test accuracy, ECE (with the bin
 * count), NLL; AUROC per OOD set (keyed by its kind, or its name for a data set) and
 * score px, py, pxgrad; robust accuracy per norm and eps > 0 (L-inf radii as k/255); the
 * FID of samples per feature set. Sets, radii and feature sets are the union over the
 * folders (sets and feature sets in file order, radii ascending). Each mode's file is
 * DIR/<mode>/<mode>.json, else DIR/<mode>.json. Numbers have 4 decimals; a JSON null
 * is "n/a"; a missing file or entry is an empty cell. */
typedef struct {
    const char *const *dirs;  /* the evaluation folders, one column each */
    const char *const *names; /* column headers; NULL (or a NULL or "" entry): the folder's name */
    int n_dirs;
    FILE *log;                /* warnings ("jempp compare: warning: ...") or NULL */
} jp_compare_opts;

typedef struct {
    int rows;     /* table rows below the header and its rule */
    int cols;     /* value columns (= n_dirs) */
    int warnings; /* one per file: absent, unreadable or corrupt, or lacking entries */
    int corrupt;  /* files that exist but could not be read or parsed */
} jp_compare_info;

/* Builds the table into *text (malloc'd, NUL-terminated; the caller frees it). A
 * missing, unreadable or corrupt file is a warning on o->log (once per file: for a
 * corrupt one the file and the parser's message), never an error; info->corrupt says
 * whether any file was corrupt. JP_ERR_ARG when there is no folder or one is not a
 * folder (naming it); JP_ERR_NOMEM. info may be NULL. */
jp_status jp_compare_table(const jp_compare_opts *o, char **text, jp_compare_info *info, jp_error *err);

#endif
