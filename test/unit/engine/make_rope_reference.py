# Makes ropeReference.json: transformers' RoPE init formulas (modeling_rope_utils, v4.57) run in torch float32.
# Run with Debian's python3 (has torch): /usr/bin/python3 make_rope_reference.py > ropeReference.json
import torch, math, json
def default(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
def yarn(base, dim, factor, orig, beta_fast=32, beta_slow=1, mscale=None, mscale_all_dim=None, attention_factor=None, truncate=True):
    def get_mscale(scale, mscale=1):
        if scale <= 1: return 1.0
        return 0.1 * mscale * math.log(scale) + 1.0
    if attention_factor is None:
        if mscale and mscale_all_dim: attention_factor = float(get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim))
        else: attention_factor = get_mscale(factor)
    def find_correction_dim(num_rotations, dim, base, mpe):
        return (dim * math.log(mpe / (num_rotations * 2 * math.pi))) / (2 * math.log(base))
    def find_correction_range(low_rot, high_rot, dim, base, mpe, truncate):
        low = find_correction_dim(low_rot, dim, base, mpe); high = find_correction_dim(high_rot, dim, base, mpe)
        if truncate: low = math.floor(low); high = math.ceil(high)
        return max(low, 0), min(high, dim - 1)
    def linear_ramp_factor(min, max, dim):
        if min == max: max += 0.001
        linear_func = (torch.arange(dim, dtype=torch.float32) - min) / (max - min)
        return torch.clamp(linear_func, 0, 1)
    pos_freqs = base ** (torch.arange(0, dim, 2).to(dtype=torch.float) / dim)
    inv_freq_extrapolation = 1.0 / pos_freqs
    inv_freq_interpolation = 1.0 / (factor * pos_freqs)
    low, high = find_correction_range(beta_fast, beta_slow, dim, base, orig, truncate)
    inv_freq_extrapolation_factor = 1 - linear_ramp_factor(low, high, dim // 2).to(dtype=torch.float)
    inv_freq = inv_freq_interpolation * (1 - inv_freq_extrapolation_factor) + inv_freq_extrapolation * inv_freq_extrapolation_factor
    return inv_freq, attention_factor
def llama3(base, dim, factor, low_freq_factor, high_freq_factor, old_context_len):
    inv_freq = default(base, dim)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
out = {}
f, a = yarn(150000.0, 64, 131072/4096, 4096, 32.0, 1.0, truncate=False); out['yarn_gptoss'] = {'inv': f.tolist(), 'att': a}
f, a = yarn(10000.0, 64, 163840/4096, 4096, 32, 1, mscale=1.0, mscale_all_dim=1.0); out['yarn_deepseek'] = {'inv': f.tolist(), 'att': a}
f, a = yarn(1000000.0, 128, 4.0, 32768); out['yarn_qwen'] = {'inv': f.tolist(), 'att': a}
out['llama3'] = {'inv': llama3(500000.0, 128, 8.0, 1.0, 4.0, 8192).tolist(), 'att': 1.0}
out['default'] = {'inv': default(1e6, 16).tolist(), 'att': 1.0}
# cos at a long position, as torch computes it
inv = default(10000.0, 64)
pos = torch.tensor([[4095.0, 32767.0]])
freqs = (inv[None, :, None].float() @ pos[:, None, :].float()).transpose(1, 2)
emb = torch.cat((freqs, freqs), dim=-1)
out['cos_long'] = {'cos': emb.cos()[0].tolist(), 'sin': emb.sin()[0].tolist()}
print(json.dumps(out))
