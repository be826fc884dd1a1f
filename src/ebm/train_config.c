/* Training configuration: the checks that concern several settings (each setting's own
 * default, range and presets: train_settings.c). */
#include "jempp/train.h"

jp_status jp_train_config_check(const jp_train_config *c, jp_error *err)
{
    jp_status st = jp_train_settings_check(c, err); /* each number in its range */
    if (st) return st;
    if (c->uncond && (c->class_cond_p_x_sample || c->p_x_y_weight != 0.0f))
        return jp_fail(err, JP_ERR_ARG, "--uncond: the energy head has no classes, so --class_cond_p_x_sample and "
                                        "--p_x_y_weight need the class-conditional model (drop --uncond)");
    if (c->save_dir[0] == '\0') return jp_fail(err, JP_ERR_ARG, "--save_dir must not be empty");
    return jp_sampler_config_check(&c->sampler, err);
}
