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
The :class:`Task` base.

What every task (``detect``, ``classify``, ``segment``) answers, in two halves.

**Runtime half** (class attributes and pure methods; Python 3.6, no torch, imported on the drone):
the bundle decoders the task takes, what it outputs (boxes, a label map), whether vitedge_node
flies it, which data it reads. **Workstation half** (methods that need torch): its model
architectures, the module ``export`` traces, the decoder a new bundle gets, evaluation, calibration
inputs and training hooks over a *task data* object: what ``vitedge_ros.training.run`` (training
configs) and ``vitedge_ros.compress`` (recipes, stages, report metrics) would otherwise branch on
the task name for. A method either holds the task's logic or calls the workstation function the
task's :attr:`Task.hooks` table names (:meth:`Task.hook`). test/test_tasks.py fails on any branch
comparing a task or decoder name with a string left in ``vitedge_ros/`` or ``tools/``.

Workstation modules are named by ``'module:attribute'`` strings (the entry-point notation of
setuptools / importlib.metadata ``EntryPoint.value``) and imported on first use by
:func:`load_ref`, the lazy-module idea of huggingface transformers' ``utils/import_utils.py``
``_LazyModule``: the drone's file set (test/lane_py36.py ``drone_sources``, which follows every
``vitedge_ros`` import statement) stays free of torch modules although this file is on it, and a
workstation method called where torch is missing fails with torch's ImportError.

Task data (the duck type :meth:`Task.evaluate`, :meth:`Task.calibration_inputs` and
:meth:`Task.train` read): ``spec`` (InputSpec), ``labels``; detect/segment: ``train`` and ``val``
image sets (``.images`` N×H×W×3 uint8); classify: ``x_train``, ``y_train``, ``x_test``, ``y_test``
(normalised N×3×H×W float32 and int64 labels). ``vitedge_ros.compress.runner.Data`` and the
trainer's data have these fields today.
"""

import importlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..runtime.bundle import DECODERS

#: uint8 N×H×W×3 images -> the normalised torch batch, as the runtime preprocesses (workstation)
IMAGES_TO_TENSOR = 'vitedge_ros.training:images_to_tensor'


def load_ref(ref: str) -> Any:
    """
    Return the object a ``'package.module:attribute'`` string names.

    Importing the module (ValueError when malformed).
    """
    module, sep, attr = ref.partition(':')
    if not sep or not module or not attr:
        raise ValueError("expected 'module:attribute', got {!r}".format(ref))
    return getattr(importlib.import_module(module), attr)


class Task:
    """
    One task, answering everything that differs by task.

    Subclass it in ``vitedge_ros/tasks/<name>.py`` and decorate the subclass with
    ``@register_task``.
    """

    #: bundle.yaml ``task`` value (ARCHITECTURE.md)
    name = ''
    #: the word in messages: ``detection``
    title = ''
    #: the model kind in messages: ``detector``
    model_word = 'model'
    #: parameters of a new bundle's decoder besides ``type`` (:meth:`decoder`)
    decoder_defaults: Dict[str, Any] = {}
    #: outputs boxes: score threshold and NMS apply, evaluate.py scores mAP, obstacles and person
    #: targets work
    boxes = False
    #: outputs a per-pixel label map (landing zone)
    segmentation = False
    #: keys of a training config's ``train`` section only this task's loop reads
    #: (:meth:`train_options`); another task's config naming one is refused
    train_keys: Tuple[str, ...] = ()
    #: vitedge_node and the bag replay run it
    on_node = False
    #: a data ``mix`` of several sources is data for this task
    reads_mixes = False
    #: synthetic scenes for it may add flight frames (``data.flights``) and real-photo textures
    #: (``real_backgrounds``, ``real_negatives``): both are detection data
    scene_extras = False
    #: token merging (ToMe) applies: a classifier's class token survives the merges, dense heads'
    #: maps do not
    token_merging = False
    #: what data the task reads, for the one-line error of a wrong data source
    data_hint = ''
    #: ``data.name`` sources a training config of this task reads
    #: (vitedge_ros.training.config.TASK_DATA)
    training_sources: Tuple[str, ...] = ()
    #: ``data.name`` sources a compression recipe of this task reads
    #: (vitedge_ros.compress.recipe.TASK_DATA)
    recipe_sources: Tuple[str, ...] = ()
    #: the project's own architectures: ``{arch: 'module:Class'}``; empty: any timm model name
    #: (classify)
    model_archs: Dict[str, str] = {}
    #: output names of the exported graph (the detector's come from its export wrapper)
    output_names: Tuple[str, ...] = ('logits',)
    #: (name, index) of the graph output INT8 sensitivity and SQNR checks watch
    watched_output: Tuple[str, int] = ('logits', 0)
    #: the answer is the argmax over axis 1 of the watched output (class logits: classify, segment)
    argmax_answer = False
    #: the workstation functions behind this task's hooks, ``{hook: 'module:function'}``
    #: (:meth:`hook`): named,
    #: not imported, so the drone's file set stays free of torch
    hooks: Dict[str, str] = {}
    #: ``model`` keys of a training config passed to the architecture's constructor
    model_keys: Tuple[str, ...] = ()
    #: ``train.batch_size`` of a training config that gives none
    train_batch_size = 32
    #: input (height, width) pixels of a recipe model without checkpoint or ``img_size``
    #: (letterboxed, mean 0.5,
    #: std 0.25); None: the task answers :meth:`recipe_spec` itself
    recipe_input_size: Optional[List[int]] = None

    def __repr__(self) -> str:
        return '<task {}>'.format(self.name)

    # ------------------------------------------------------------------------------------------
    # runtime half
    @property
    def decoders(self) -> Tuple[str, ...]:
        """
        Return the ``decoder.type`` values bundle.yaml allows for this task.

        The first is what a new export writes. Read from the bundle schema
        (:data:`vitedge_ros.runtime.bundle.DECODERS`), the drone's one list.
        """
        return tuple(DECODERS.get(self.name, ()))

    def decoder(self, **params: Any) -> Dict[str, Any]:
        """
        Return the ``decoder`` mapping of a new bundle.

        ``type`` (the first decoder), the defaults, then ``params``.
        """
        out: Dict[str, Any] = {'type': self.decoders[0]}
        out.update(self.decoder_defaults)
        out.update(params)
        return out

    def agreement(
        self, reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
    ) -> Optional[bool]:
        """
        Return whether two runs' outputs (batch 1, same sample) give the same answer.

        Only for tasks that define one answer: None here; classify: the same top-1 class (the
        ONNX-to-bundle parity check).
        """
        return None

    def answer_agreement(
        self, reference: np.ndarray, outputs: np.ndarray
    ) -> Optional[Dict[str, float]]:
        """
        Return ``{'agreement': fraction}`` of positions with the same argmax in the two outputs.

        The argmax is over axis 1 of the two N×C×… arrays. For tasks whose answer is that argmax
        (:attr:`argmax_answer`), else None (detect: compare the heatmap).
        """
        if not self.argmax_answer:
            return None
        return {'agreement': round(float((reference.argmax(1) == outputs.argmax(1)).mean()), 4)}

    # --------------------------------------------------------------------------------------
    # workstation half
    def hook(self, name: str) -> Any:
        """
        Return the function :attr:`hooks` names for ``name``, imported.

        Raises NotImplementedError when the task has none.
        """
        if name not in self.hooks:
            raise NotImplementedError('task {} has no {} hook'.format(self.name, name))
        return load_ref(self.hooks[name])

    def data_labels(self, data: Dict[str, Any]) -> List[str]:
        """
        Return the label names of a validated ``data`` entry (a training config's or recipe's).

        They are read without any image.

        Raises the readers' DataConfigError / DatasetError (the caller names its config).
        """
        raise NotImplementedError

    def model_class(self, arch: str) -> Any:
        """
        Return the torch class of one of this task's own architectures.

        Raises ValueError ``unknown <word> arch``.
        """
        if arch not in self.model_archs:
            known = ', '.join(self.model_archs)
            raise ValueError(
                'unknown {} arch {!r} (known: {})'.format(self.model_word, arch, known)
            )
        return load_ref(self.model_archs[arch])

    def create_model(
        self,
        arch: str,
        num_classes: int,
        img_size: Any = None,
        pretrained: bool = False,
        **kwargs: Any,
    ) -> Any:
        """
        Return a new torch model of this task.

        ``num_classes`` outputs; ``img_size`` int or (h, w) pixels or None.

        Raises ValueError for an architecture the task does not have.
        """
        extra = {} if img_size is None else {'img_size': img_size}
        extra.update(kwargs)
        return self.model_class(arch)(num_classes=num_classes, pretrained=pretrained, **extra)

    def export_module(self, model: Any) -> Tuple[Any, List[str]]:
        """
        Return the torch module ONNX export traces for ``model`` and its output names.

        The default is the model itself with the output ``logits``.
        """
        return model, list(self.output_names)

    def evaluate(self, model: Any, data: Any) -> Dict[str, Any]:
        """
        Return the task metric of a torch model on ``data``'s validation part.

        See the module doc for ``data``.
        """
        raise NotImplementedError

    def calibration_inputs(self, data: Any, n: int) -> np.ndarray:
        """
        Return ``n`` normalised training inputs (N×3×H×W float32).

        They feed INT8 calibration and the quantization checks.
        """
        return load_ref(IMAGES_TO_TENSOR)(data.train.images[:n], data.spec).numpy()

    def eval_inputs(self, data: Any, n: Optional[int] = None) -> np.ndarray:
        """Normalised validation inputs (N×3×H×W float32), all or the first ``n``."""
        images = data.val.images if n is None else data.val.images[:n]
        return load_ref(IMAGES_TO_TENSOR)(images, data.spec).numpy()

    def train(self, model: Any, data: Any, **common: Any) -> Any:
        """
        Train ``model`` on ``data``'s training part.

        ``common``: the ``vitedge_ros.training`` loop's keywords.
        """
        raise NotImplementedError

    # ---- recipes and compression (vitedge_ros.compress): ``data`` is
    # vitedge_ros.compress.runner.Data
    def recipe_spec(self, recipe: Dict[str, Any]) -> Any:
        """
        Return the InputSpec of a validated recipe's model without a checkpoint.

        ``data.img_size`` or ``model.img_size`` (height, width) or :attr:`recipe_input_size`,
        letterboxed, mean 0.5, std 0.25.
        """
        return load_ref('vitedge_ros.training.data:letterbox_recipe_spec')(
            recipe, self.recipe_input_size
        )

    def recipe_data(self, recipe: Dict[str, Any], spec: Any, labels: Optional[List[str]]) -> Any:
        """
        Return a validated recipe's data for model input ``spec``.

        The data is a :class:`vitedge_ros.training.data.TaskData`.

        ``labels``: the class names the model was checked against, or None (the data's).
        """
        return self.hook('recipe_data')(recipe, spec, labels)

    def recipe_decoder(self, model: Any) -> Dict[str, Any]:
        """
        Return the ``decoder`` of a recipe model created without a checkpoint.

        These are :meth:`decoder`'s defaults.
        """
        return self.decoder()

    def evaluate_metric(self, model: Any, data: Any) -> Dict[str, Any]:
        """Return the compression report's metric of a torch model (default: :meth:`evaluate`)."""
        return self.evaluate(model, data)

    def evaluate_outputs(self, outs: Sequence[np.ndarray], data: Any) -> Dict[str, Any]:
        """
        Return the compression report's metric from an ONNX graph's outputs.

        ``outs`` are the graph's outputs over :meth:`eval_inputs`, stacked along the batch axis.
        """
        return self.hook('evaluate_outputs')(outs, data)

    def source_agreement(
        self, reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
    ) -> Dict[str, Any]:
        """Return metric keys comparing a quantized graph's outputs with its FP32 source's."""
        return {}

    def onnx_agreement(
        self, model: Any, onnx_path: Any, data: Any, n: int = 20
    ) -> Optional[float]:
        """
        Return the fraction of answers torch and onnxruntime share on ``n`` validation inputs.

        The inputs are the first ``n``; None when the task has no such check.

        Only where the export parity report has one (segment: pixels of the same class).
        """
        if 'onnx_agreement' not in self.hooks:
            return None
        return self.hook('onnx_agreement')(model, onnx_path, data.val.images[:n], data.spec)

    def calibration_losses(self, model: Any, data: Any, n_batches: int, batch_size: int) -> Any:
        """
        Iterate over the task loss of up to ``n_batches`` training batches.

        Each item is a scalar tensor, for the Taylor importance of pruning.
        """
        return self.hook('calibration_losses')(model, data, n_batches, batch_size)

    def finetune(
        self,
        ctx: Any,
        net: Any,
        batch_size: int,
        distiller: Any,
        st: Dict[str, Any],
        common: Dict[str, Any],
    ) -> Any:
        """
        Train ``net`` on ``ctx.data`` for the finetune stage (``distiller`` or None).

        Returns the history.
        """
        return self.hook('finetune')(ctx, net, batch_size, distiller, st, common)

    # ---- training configs (vitedge_ros.training.run): ``data`` is a TaskData
    def training_decoder(self, export: Dict[str, Any]) -> Dict[str, Any]:
        """Return the ``decoder`` of a trained model's bundle from the config's ``export``."""
        return self.decoder()

    def training_data(self, cfg: Dict[str, Any], spec: Any, labels: List[str]) -> Any:
        """
        Return a validated training config's data.

        TaskData; its ``labels`` may replace ``labels``.

        Raises the readers' DataConfigError / DatasetError.
        """
        return self.hook('training_data')(cfg, spec, labels)

    def check_train(self, train: Dict[str, Any], labels: List[str]) -> None:
        """
        Check the config's ``train`` section against the data's ``labels``, before any data.

        Raises ConfigError naming the key (default: nothing to check).
        """
        if 'check_train' in self.hooks:
            self.hook('check_train')(train, labels)

    def train_options(self, train: Dict[str, Any], data: Any) -> Dict[str, Any]:
        """
        Return the keywords of :meth:`train` beyond the common loop ones.

        They come from the config's ``train`` section.
        """
        return self.hook('train_options')(train, data) if 'train_options' in self.hooks else {}

    def validate_epoch(
        self, model: Any, data: Any, stats: Dict[str, float], epoch: int, epochs: int
    ) -> None:
        """
        Validate after a training epoch.

        Adds ``val_*`` entries to ``stats`` and logs them (default: none).
        """
        if 'validate_epoch' in self.hooks:
            self.hook('validate_epoch')(model, data, stats, epoch, epochs)

    def final_metrics(
        self, model: Any, data: Any, cfg: Dict[str, Any], decoder: Dict[str, Any]
    ) -> Dict[str, Any]:
        """
        Return the metrics of a trained model.

        May set ``decoder`` entries, e.g. a picked score threshold.
        """
        if 'final_metrics' in self.hooks:
            return self.hook('final_metrics')(model, data, cfg, decoder)
        return self.evaluate(model, data)

    def export_samples(self, data: Any) -> Optional[np.ndarray]:
        """Input (N×3×H×W float32) the bundle export checks parity on; None: the exporter's own."""
        return self.eval_inputs(data, 3)
