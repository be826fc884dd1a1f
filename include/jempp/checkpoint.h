/* Model checkpoints as safetensors with the PyTorch reference's state_dict names
 * (f.conv1.weight, f.layer1.0.bn1.running_mean, class_output.weight, ...), so a
 * PyTorch state_dict saved as safetensors loads directly and ours loads into PyTorch.
 * Metadata: format=jempp-checkpoint, depth, width, in_channels, image_size, n_classes,
 * norm. Training state (optimizer, replay buffer, RNG, position) rides along in the
 * same file under other names (see src/ebm/trainer.c). */
#ifndef JEMPP_CHECKPOINT_H
#define JEMPP_CHECKPOINT_H

#include "jempp/safetensors.h"
#include "jempp/wrn.h"

/* Adds the model's tensors and metadata to w (pointers into the model: save before
 * changing it). */
void jp_ckpt_add_model(jp_st_writer *w, jp_wrn *m);
/* Reads the model configuration from a checkpoint's metadata into cfg (fields not in
 * the file keep their values). JP_ERR_FORMAT naming the file when something is missing
 * or not a number. */
jp_status jp_ckpt_read_config(const jp_st_file *f, jp_wrn_config *cfg, jp_error *err);
/* Loads every model tensor from f after checking names, dtypes and shapes; the error
 * names the tensor and the expected vs found shape. The model is unchanged on error. */
jp_status jp_ckpt_load_model(const jp_st_file *f, jp_wrn *m, jp_error *err);
/* Convenience: read a checkpoint file, build a model of its configuration for the
 * given batch size, load it. */
jp_status jp_ckpt_open_model(const char *path, int batch, jp_wrn **out, jp_error *err);

#endif
