# The text encoder of every text-guided *_synthetic.py config (RecLMIS, LViT, LAVT, DMMI, TMCA and
# the U-Net with RecLMIS's heads of docs/reuse.md), so that the synthetic comparison isolates the
# fusion design: the CLIP ViT-B/32 text tower, with random weights (nothing can be downloaded) and
# frozen as RecLMIS freezes CLIP, at 24 tokens so that no synthetic caption is cut, padding keys
# hidden (RecLMIS's encode_text; valid positions are unchanged), and a 128-d text projection
# (random, frozen) so that the text width matches the 128-channel bottleneck of the 2-core
# models. Frozen, its features are computed once per distinct caption (the synthetic data have
# 56) and cached.
# Random frozen towers keep captions apart: the mean cosine between the valid tokens of one
# caption is 0.78 with 12 layers (0.41 with 1 layer).
# Use it as `model = dict(text_encoder={{_base_.text_encoder}}, ...)` to replace the text encoder
# of a base model, and as `{{_base_.added_text_encoder}}` to give one to a text-free model (MMEngine
# keeps `_delete_` in a dict that replaces nothing, and the encoder would receive it).
added_text_encoder = dict(
    type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24, pretrained=None,
    frozen=True, mask_padding_keys=True, embed_dims=128)
text_encoder = dict(_delete_=True, **added_text_encoder)
