# The text encoder of the baselines' *_synthetic.py configs (LViT, LAVT, DMMI, TMCA), so that the
# synthetic comparison isolates the fusion design (reclmis_synthetic.py keeps a frozen random
# ViT-B/32 tower; its header gives the measurements): the CLIP text transformer (BPE tokenizer, causal attention) at a small size
# (2 layers, width 128) trained from scratch, 24 tokens so that no synthetic caption is cut.
# No pretrained CLIP can be downloaded here, and a frozen ViT-B/32 tower with random weights is
# no stand-in for one: its 12 random layers map all tokens of a caption to nearly the same
# vector (mean cosine 0.96 between tokens), so the zone words are hardly told apart.
# Use it as `model = dict(text_encoder={{_base_.text_encoder}}, ...)`.
text_encoder = dict(
    _delete_=True, type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
    pretrained=None, frozen=False, embed_dims=128, text_cfg=dict(width=128, heads=4, layers=2))
