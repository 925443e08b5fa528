"""A local web demo: upload an image, type a caption, see the mask, the overlay and, for
RecLMIS, the interest maps.

    python tools/demo.py configs/reclmis_synthetic.py \
        work_dirs/reclmis_synthetic/best_mDice_iter_1400.pth

then open http://127.0.0.1:7860 in a browser. Needs the ``demo`` extra
(``pip install -e ".[demo]"``, Gradio). The page is served on ``--host`` only (127.0.0.1 by
default: this machine alone), without a share link or analytics. A thin front end over
:func:`vlseg.apis.init_model` and :func:`vlseg.apis.inference_model`, drawn with
:mod:`vlseg.visualization` as ``tools/infer.py`` draws its files.
"""
import argparse
import os.path as osp
from typing import Optional, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

try:
    import gradio as gr
except ImportError as error:
    raise ImportError('tools/demo.py needs Gradio, the "demo" extra: pip install -e ".[demo]" '
                      '(or pip install gradio)') from error

from vlseg.apis import (InferenceResult, add_model_args, has_interest_weights, inference_model,
                        init_model_from_args)
from vlseg.visualization import draw_panel, heatmap_overlay, token_bar_chart

__all__ = ['build_demo', 'predict']

# Output images fill their box below its label, so a small image (a 128x128 radiograph) is
# shown enlarged; the mask and heat map with sharp pixels.
OUTPUT_CSS = '''
.vlseg-output .image-container {padding: 36px 6px 6px; box-sizing: border-box; height: 100%;}
.vlseg-output .image-container > button, .vlseg-output .image-frame {width: 100%; height: 100%;}
.vlseg-output .image-frame img {width: 100%; height: 100%; object-fit: contain;}
.vlseg-pixels .image-frame img {image-rendering: pixelated;}
'''

Outputs = Tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Local web demo of a trained vlseg model')
    add_model_args(parser)
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (default 127.0.0.1, this machine only; '
                             '0.0.0.0 serves every network interface)')
    parser.add_argument('--port', type=int, default=7860, help='port (default 7860)')
    return parser.parse_args(argv)


def predict(model, image_rgb: Optional[np.ndarray], caption: Optional[str]) -> Outputs:
    """One image and caption through the model, as pictures for the page.

    Args:
        model: A segmentor from :func:`~vlseg.apis.init_model`.
        image_rgb: (H, W, 3) uint8 RGB, as Gradio gives an uploaded image.
        caption: The caption.

    Returns:
        The mask ((H, W) uint8, 0 or 255), the overlay of the mask and caption, the W_poi heat
        map over the image and the W_woi bar chart over the caption's tokens (RGB uint8; the
        last two None for a model without interest weights).

    Raises:
        gradio.Error: No image or an empty caption; the page shows the message.
    """
    if image_rgb is None:
        raise gr.Error('Upload an image first.')
    if not caption or not caption.strip():
        raise gr.Error('Type a caption: the model segments what the caption describes.')
    caption = caption.strip()
    image = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    result: InferenceResult = inference_model(model, image, caption)[0]
    overlay = draw_panel(image, result.mask, caption, 'caption:')
    heat = chart = None
    if result.patch_weights is not None:
        heat = heatmap_overlay(image, result.patch_weights)[..., ::-1]
    if result.word_weights is not None:
        chart = token_bar_chart(result.tokens, result.word_weights)[..., ::-1]
    return result.mask * np.uint8(255), overlay[..., ::-1], heat, chart


def build_demo(model, title: str) -> 'gr.Blocks':
    """The page: inputs on the left, the mask and overlay on the right, the interest maps
    below (hidden for a model without them). Its API endpoint is ``/predict``: (image,
    caption) -> (mask, overlay, W_poi heat map, W_woi chart), each a PNG file; the last two
    are None for a model without interest weights."""

    def run(image_rgb, caption):
        return predict(model, image_rgb, caption)

    has_maps = has_interest_weights(model)
    with gr.Blocks(title='vlseg demo', analytics_enabled=False) as demo:
        gr.Markdown(f'### vlseg: language-guided segmentation\n{title}')
        with gr.Row():
            with gr.Column():
                image = gr.Image(label='Image', type='numpy', image_mode='RGB',
                                 sources=['upload', 'clipboard'], height=300)
                caption = gr.Textbox(label='Caption', lines=2, placeholder=(
                    'e.g. Unilateral pulmonary infection, one infected area, lower left lung.'))
                submit = gr.Button('Submit', variant='primary')
            overlay = gr.Image(label='Overlay', format='png', interactive=False, height=380,
                               elem_classes='vlseg-output')
            mask = gr.Image(label='Mask', format='png', interactive=False, height=380,
                            elem_classes=['vlseg-output', 'vlseg-pixels'])
        with gr.Row():
            heat = gr.Image(label='Patches of interest (W_poi) over the image', format='png',
                            interactive=False, height=320, visible=has_maps,
                            elem_classes=['vlseg-output', 'vlseg-pixels'])
            chart = gr.Image(label='Words of interest (W_woi) over the caption\'s tokens',
                             format='png', interactive=False, height=320,
                             visible=has_maps, elem_classes='vlseg-output')
        outputs = [mask, overlay, heat, chart]
        gr.on([submit.click, caption.submit], run, [image, caption], outputs,
              api_name='predict')
    return demo


def main(argv=None) -> None:
    args = parse_args(argv)
    model = init_model_from_args(args)
    title = (f'Model `{type(model).__name__}` from `{osp.basename(args.config)}`, '
             f'weights `{osp.basename(args.checkpoint)}`, on `{args.device}`.')
    print_log(f'demo: serving on http://{args.host}:{args.port} (Ctrl+C stops it)',
              logger='current')
    # system fonts: the page fetches nothing from outside this machine
    theme = gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                              font_mono=['ui-monospace', 'monospace'])
    build_demo(model, title).launch(server_name=args.host, server_port=args.port, share=False,
                                    show_error=True, theme=theme, css=OUTPUT_CSS)


if __name__ == '__main__':
    main()
