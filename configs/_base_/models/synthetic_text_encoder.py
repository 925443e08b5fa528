# The text encoder of the baselines' *_synthetic.py configs (LViT, LAVT, DMMI, TMCA), so that
# their synthetic comparison isolates the fusion design: the CLIP text transformer (BPE
# tokenizer, causal attention) at a small size (2 layers, width 128) trained from scratch, 24
# tokens so that no synthetic caption is cut. No pretrained CLIP can be downloaded here; a frozen
# random ViT-B/32 tower maps a caption's tokens to nearly one vector (mean cosine 0.96), but
# RecLMIS did better with it (reclmis_synthetic.py keeps it; its header gives the measurements),
# so which stand-in serves each baseline best is still open.
# Use it as `model = dict(text_encoder={{_base_.text_encoder}}, ...)`.
text_encoder = dict(
    _delete_=True, type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
    pretrained=None, frozen=False, embed_dims=128, text_cfg=dict(width=128, heads=4, layers=2))
