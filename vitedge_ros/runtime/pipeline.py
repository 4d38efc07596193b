# Copyright 2026 vitedge_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The per-frame pipeline.

Preprocess → engine → decoder → boxes in input-image pixels, timed per step.
"""

import logging
from pathlib import Path
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .bundle import Bundle, bundle_label_ids, load_bundle
from .decoders import (
    check_decoder_params,
    decode_classifier,
    decode_detr,
    decode_vit_center,
    filter_detections,
)
from .detection import Classification, Detection, FrameResult
from .engines import select_engine
from .errors import BundleError
from .preprocess import Preprocessor
from .segmentation import decode_segmenter

LOG = logging.getLogger(__name__)


#: What one frame's decoding gives: detections, classes, segmentation (H×W uint8 or None).
Decoded = Tuple[List[Detection], List[Classification], Optional[np.ndarray]]


def _ms(t0: float, t1: float) -> float:
    return (t1 - t0) * 1000.0


class Pipeline:
    """
    Bundle + engine + decoder.

    Call it on uint8 frames (BGR by default, RGB with ``order='rgb'``).
    """

    def __init__(
        self,
        bundle: Union[Bundle, str, Path],
        backend: str = 'auto',
        score_threshold: Optional[float] = None,
        nms_iou: Optional[float] = None,
        classes: Optional[Sequence[Any]] = None,
        max_detections: Optional[int] = None,
        top_k: Optional[int] = None,
        providers: Optional[Sequence[str]] = None,
        module: Any = None,
    ) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        dec = dict(self.bundle.decoder)
        for key, value in (
            ('score_threshold', score_threshold),
            ('nms_iou', nms_iou),
            ('max_detections', max_detections),
            ('top_k', top_k),
        ):
            if value is not None:
                dec[key] = value
        check_decoder_params(dec, len(self.bundle.labels))
        self.decoder = dec
        self.score_threshold = float(dec.get('score_threshold', 0.3))
        self.nms_iou = dec.get('nms_iou', NMS_IOU_DEFAULT.get(self.bundle.decoder_type, 0.5))
        self.max_detections = int(dec.get('max_detections', 100))
        self.top_k = int(dec.get('top_k', 5))
        self.class_ids = bundle_label_ids(self.bundle, list(classes) if classes else None)
        self.preprocess = Preprocessor(self.bundle.input)
        spec = self.bundle.input
        self._input = np.empty(
            (1, 3, spec.height, spec.width), np.float32
        )  # reused: no allocation per frame
        self._lock = threading.Lock()  # one frame at a time in the input buffer and the engine
        choice = select_engine(self.bundle, backend, providers=providers, module=module)
        self.engine, self.backend_reason = choice.engine, choice.reason
        #: Non-empty when ``auto`` found TensorRT engines but could use none (the node reports it
        #: as a warning).
        self.backend_fallback = choice.fallback
        self.backend_name = self.engine.name
        self._check_io()
        LOG.info('bundle %s: backend %s', self.bundle.name, self.backend_reason)

    def _check_io(self) -> None:
        shape = tuple(self.engine.input_shape)
        spec = self.bundle.input
        if len(shape) == 4 and all(isinstance(d, int) for d in shape):
            if shape != (1, 3, spec.height, spec.width):
                raise BundleError(
                    '{}: model input is {} but bundle.yaml input says 1×3×{}×{}'.format(
                        self.bundle.onnx_path, shape, spec.height, spec.width
                    )
                )
        elif shape:
            raise BundleError(
                '{}: model input must be static 1×3×H×W, got {}'.format(
                    self.bundle.onnx_path, shape
                )
            )

    @property
    def labels(self) -> List[str]:
        """Class names of the bundle."""
        return self.bundle.labels

    def _label(self, class_id: int) -> str:
        labels = self.bundle.labels
        return labels[class_id] if 0 <= class_id < len(labels) else str(class_id)

    def __call__(
        self, image: np.ndarray, order: str = 'bgr', source_size: Optional[Tuple[int, int]] = None
    ) -> FrameResult:
        """
        Process one frame; raises FrameError on a bad frame.

        ``image``: uint8 H×W grey, H×W×3 or H×W×4 (alpha last) with channels in ``order`` (``bgr``
        or ``rgb``); a view with padded rows is fine (see :meth:`Preprocessor.__call__`): it is
        read once, by the resize. ``source_size``: (w, h) of the full frame when ``image`` was
        decoded at a reduced size; boxes and ``image_size`` are then in the full frame's pixels.
        """
        with self._lock:
            t0 = time.perf_counter()
            tensor, tf = self.preprocess(image, order, out=self._input, source_size=source_size)
            t1 = time.perf_counter()
            outputs = self.engine.infer(tensor)
            t2 = time.perf_counter()
        detections, classes, segmentation = DECODE_STEPS[self.bundle.decoder_type](
            self, outputs, tf
        )
        t3 = time.perf_counter()
        timings = {
            'preprocess': _ms(t0, t1),
            'inference': _ms(t1, t2),
            'postprocess': _ms(t2, t3),
            'total': _ms(t0, t3),
        }
        return FrameResult(
            detections, classes, timings, (int(tf.image_width), int(tf.image_height)), segmentation
        )

    def _segment(self, outputs: Any, tf: Any) -> Decoded:
        """``segmenter``: the label map in input-image pixels."""
        spec = self.bundle.input
        return (
            [],
            [],
            decode_segmenter(
                outputs, self.decoder, tf, (spec.width, spec.height), len(self.bundle.labels)
            ),
        )

    def _classify(self, outputs: Any, tf: Any) -> Decoded:
        """``classifier``: the top-k classes (of ``classes`` when given), best first."""
        prob = decode_classifier(outputs, self.decoder)
        order = np.argsort(-prob, kind='stable')
        if self.class_ids is not None:
            order = np.asarray([i for i in order if int(i) in self.class_ids], dtype=np.int64)
        return (
            [],
            [
                Classification(int(i), self._label(int(i)), float(prob[i]))
                for i in order[: self.top_k]
            ],
            None,
        )

    def _detect(self, outputs: Any, tf: Any) -> Decoded:
        """
        ``vit_center`` / ``detr``.

        Filtered boxes in input-image pixels (empty boxes dropped).
        """
        spec = self.bundle.input
        raw = RAW_BOX_DECODERS[self.bundle.decoder_type](
            outputs, self.decoder, spec.width, spec.height
        )
        raw = filter_detections(
            raw, self.score_threshold, self.class_ids, self.nms_iou, self.max_detections
        )
        detections = []
        for box, score, cid in zip(tf.boxes_to_image(raw.boxes), raw.scores, raw.classes):
            if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
                continue
            detections.append(
                Detection(
                    int(cid),
                    self._label(int(cid)),
                    float(score),
                    (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                )
            )
        return detections, [], None

    def close(self) -> None:
        """Release the engine."""
        self.engine.close()


#: The decode step of each bundle ``decoder.type`` (:data:`.bundle.DECODERS`; the task objects of
#: :mod:`vitedge_ros.tasks` name which of these decoders their bundles take).
DECODE_STEPS: Dict[str, Callable[[Pipeline, Any, Any], Decoded]] = {
    'vit_center': Pipeline._detect,
    'detr': Pipeline._detect,
    'classifier': Pipeline._classify,
    'segmenter': Pipeline._segment,
}
#: Network outputs -> raw boxes in network pixels, per box decoder.
RAW_BOX_DECODERS = {'vit_center': decode_vit_center, 'detr': decode_detr}
#: NMS IoU when bundle.yaml sets none: vit_center's peaks need none (CenterNet's max-pool is its
#: NMS), others 0.5.
NMS_IOU_DEFAULT: Dict[str, Optional[float]] = {'vit_center': None}
