// The on-disk form of one forward's inputs and output, shared by `qdit run` and by W8A8 calibration (whose
// calibration files are inputs in this same form). A safetensors file holding exactly:
//   hidden_states                F32 [Cin, T, H, W]   (a leading batch dimension of 1 is accepted)
//   timestep                     F32 or I64 [1], or [L] with one value per video token
//   encoder_hidden_states        F32 [n, text_dim], n <= 512 (a leading batch dimension of 1 is accepted)
//   encoder_hidden_states_image  F32 [257, 1280]      (Wan2.1 I2V only; leading batch dimension of 1 accepted)
// The output file holds noise_pred F32 [Cout, T, H, W].
#pragma once
#include <string>

#include "qdit/models/wan/config.h"
#include "qdit/models/wan/forward/wan_model.h"

namespace qdit::wan {

// Reads and fully validates the inputs for a model of `config`. Every problem (missing, unknown or duplicated
// name, wrong dtype or shape, i64 timestep not exactly representable in fp32) is a Checkpoint error naming the
// file and the tensor, with expected vs found. Tensors are zero-copy views of the mapping where possible.
WanInputs read_run_inputs(const std::string& path, const WanConfig& config);

// Writes noise_pred (F32 host tensor) as the single tensor of a safetensors file.
void write_noise_pred(const std::string& path, const Tensor& noise_pred);

}  // namespace qdit::wan
