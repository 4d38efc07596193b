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
Command lines of the replay tools: ``tools/eval_bag.py`` and ``tools/make_bag.py``.

``main`` is eval_bag's (also ``python -m vitedge_ros.replay.cli``), ``make_bag_main`` make_bag's.

Exit status: 0 on success, 2 on a usage or input problem (message on stderr, no traceback), 130
when interrupted (no output bag is left behind).
"""

import argparse
import logging
import sys
from typing import List, Optional

from .errors import BagReplayError
from ..runtime.errors import VitedgeError

__all__ = ['build_make_bag_parser', 'build_parser', 'main', 'make_bag_main']


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of eval_bag."""
    p = argparse.ArgumentParser(
        prog='eval_bag.py',
        description='Replay a rosbag2 (sqlite3 or mcap) through a detector bundle without ROS: '
        'metrics.json/metrics.md, a latency plot and an output bag with /vitedge/detections.',
    )
    p.add_argument('bag', help='rosbag2 directory (sqlite3 or mcap, compressed or not)')
    p.add_argument(
        '--bundle', required=True, help='detector bundle directory (model.onnx + bundle.yaml)'
    )
    p.add_argument(
        '--image-topic',
        required=True,
        help='sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage topic to replay',
    )
    p.add_argument('--out', required=True, help='output directory')
    p.add_argument(
        '--backend',
        default='auto',
        choices=('auto', 'onnxruntime', 'tensorrt', 'torch'),
        help='inference backend (default auto; torch is for debugging only)',
    )
    p.add_argument(
        '--realtime',
        action='store_true',
        help="replay at the bag's timing with latest-wins processing (counts drops, end-to-end "
        'latency)',
    )
    p.add_argument(
        '--rate',
        type=float,
        default=1.0,
        help='speed factor of the --realtime clock (default 1.0)',
    )
    gt = p.add_mutually_exclusive_group()
    gt.add_argument(
        '--gt',
        metavar='FILE',
        help='ground truth: a COCO instances JSON whose images carry '
        '"stamp_ns" (the header stamp in ns), or a folder of VisDrone-DET .txt files named '
        '<stamp_ns>.txt; '
        'for a segmentation bundle a folder of PNG label maps named <stamp_ns>.png (mIoU). Frames '
        'with '
        'repeated or zero stamps are matched by bag log time or receive order, with a warning',
    )
    gt.add_argument(
        '--gt-topic',
        metavar='TOPIC',
        help='vision_msgs/msg/Detection2DArray ground-truth topic in the same bag (vision_msgs '
        '2.x '
        'Foxy, 3.x Galactic or 4.x Humble)',
    )
    p.add_argument(
        '--label-map',
        metavar='MAP',
        default=None,
        help='ground-truth category -> bundle label, '
        '"pedestrian=person,car=vehicle,others=ignore" or a '
        'YAML file (default: pedestrian/people->person, car/van/truck/bus->vehicle; VisDrone '
        'others are '
        'always ignored; '
        'a name equal to a bundle label maps to itself)',
    )
    p.add_argument(
        '--overlay',
        action='store_true',
        help='also write /vitedge/overlay images to the output bag',
    )
    p.add_argument(
        '--out-storage',
        default='mcap',
        choices=('mcap', 'sqlite3'),
        help='storage of the output bag (default mcap)',
    )
    p.add_argument(
        '--score-threshold',
        type=float,
        default=None,
        help="override the bundle's score threshold (use a low one, e.g. 0.05, for mAP)",
    )
    p.add_argument(
        '--mono16-shift',
        type=int,
        default=-1,
        metavar='N',
        help="right shift from 16-bit to 8-bit images, one for the camera (the node's "
        'mono16_shift; '
        '12-bit camera: 4); -1 (default): fixed from the first 16-bit frame and kept',
    )
    p.add_argument(
        '--target-frame',
        default='map',
        metavar='FRAME',
        help="ground frame of the person targets, the node's target_frame (default map; '' turns "
        'them '
        'off); needs CameraInfo and /tf in the bag',
    )
    p.add_argument(
        '--camera-info-topic',
        default=None,
        metavar='TOPIC',
        help='sensor_msgs/msg/CameraInfo topic (default: camera_info beside the image topic, or '
        'the only '
        'one)',
    )
    p.add_argument(
        '--params',
        default=None,
        metavar='FILE',
        help='vitedge_node parameter YAML (a flat mapping, or a ros2 params file with '
        'ros__parameters), '
        'e.g. obstacle_classes or clear_path_width_frac, validated as the node validates them',
    )
    p.add_argument(
        '--max-frames', type=int, default=None, help='stop after this many input frames'
    )
    p.add_argument(
        '--overwrite', action='store_true', help='replace the outputs of an earlier run in --out'
    )
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('-q', '--quiet', action='store_true', help='print only errors')
    return p


def _m(value: Optional[float]) -> str:
    return '-' if value is None else '{:.2f}'.format(value)


def _read_params(path: Optional[str]) -> Optional[dict]:
    """
    Read node parameters from a YAML file.

    The file is a flat mapping, or a ros2 params file (its ``ros__parameters``).

    Raises
    ------
        BagReplayError: unreadable file or not a mapping (the message names the file).

    """
    if path is None:
        return None
    import yaml

    try:
        with open(path, encoding='utf-8') as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise BagReplayError('--params {}: {}'.format(path, exc)) from None
    except yaml.YAMLError as exc:
        from vitedge_ros.runtime.errors import yaml_error_line

        raise BagReplayError(
            '--params {}: not valid YAML: {}'.format(path, yaml_error_line(exc))
        ) from None
    if isinstance(data, dict) and len(data) == 1:
        inner = next(iter(data.values()))
        if isinstance(inner, dict) and isinstance(inner.get('ros__parameters'), dict):
            data = inner['ros__parameters']
    if not isinstance(data, dict):
        raise BagReplayError(
            '--params {}: expected a mapping of parameter names to values'.format(path)
        )
    return data


def _summary(m: dict) -> str:
    lat = m['latency_ms']
    lines = [
        '{} frames in, {} processed, {} failed, {} dropped; {:.1f} frames/s ({}, {})'.format(
            m['frames_in'],
            m['frames_processed'],
            m['frames_failed'],
            m['frames_dropped'],
            m['fps'],
            m['mode'],
            m['backend'],
        ),
        (
            'latency ms: inference p50 {:.2f}, end-to-end p50 {:.2f} / p95 {:.2f}; '
            'peak RSS {:.0f} MB'
        ).format(
            lat['inference']['median_ms'],
            lat['end_to_end']['median_ms'],
            lat['end_to_end']['p95_ms'],
            m['peak_rss_mb'],
        ),
    ]
    if m['failure_reasons']:
        lines.append(
            'failed frames: '
            + ', '.join('{} x{}'.format(k, v) for k, v in m['failure_reasons'].items())
        )
    loc = m.get('localisation')
    if loc and loc.get('persons_true'):
        lines.append(
            'persons localised {}/{} ({:.1%}) within {:g} m; horizontal error median {} m, p95 {} '
            'm; '
            '{:.2f} false targets/frame'.format(
                loc['persons_localised'],
                loc['persons_true'],
                loc['recall'],
                loc['gate_m'],
                _m(loc['median_m']),
                _m(loc['p95_m']),
                loc['false_targets_per_frame'],
            )
        )
    elif m.get('camera', {}).get('note'):
        lines.append('no person targets: ' + m['camera']['note'])
    cp = m.get('clear_path')
    if cp and cp.get('frames_evaluated'):
        lines.append(
            'clear path accuracy {:.1%} ({} frames; {} false alarms, {} misses)'.format(
                cp['accuracy'], cp['frames_evaluated'], cp['false_alarms'], cp['misses']
            )
        )
    acc = m.get('accuracy')
    if acc and 'miou' in acc:
        per = ', '.join(
            '{} {:.3f}'.format(k, v) for k, v in acc['per_class_iou'].items() if v is not None
        )
        lines.append(
            'mIoU {:.4f} ({} frames; IoU {})'.format(acc['miou'], acc['frames_evaluated'], per)
        )
    elif acc:
        per = ', '.join('{} {:.3f}'.format(k, v['ap50']) for k, v in acc['per_class'].items())
        lines.append(
            'mAP@0.5 {:.4f}, mAP@0.5:0.95 {:.4f} ({} images; AP@0.5 {})'.format(
                acc['map50'], acc['map50_95'], acc['images_evaluated'], per
            )
        )
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Run eval_bag; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.ERROR if args.quiet else logging.WARNING,
        format='%(levelname)s %(name)s: %(message)s',
    )
    from .driver import replay
    from ..cli import run_guarded

    def run() -> dict:
        return replay(
            args.bag,
            args.bundle,
            args.image_topic,
            args.out,
            backend=args.backend,
            realtime=args.realtime,
            rate=args.rate,
            gt=args.gt,
            gt_topic=args.gt_topic,
            overlay=args.overlay,
            output_storage=args.out_storage,
            score_threshold=args.score_threshold,
            max_frames=args.max_frames,
            overwrite=args.overwrite,
            progress=not (args.no_progress or args.quiet),
            label_map=args.label_map,
            mono16_shift=None if args.mono16_shift == -1 else args.mono16_shift,
            target_frame=args.target_frame,
            camera_info_topic=args.camera_info_topic,
            node_params=_read_params(args.params),
        )

    status, metrics = run_guarded(
        'eval_bag', run, (VitedgeError,), interrupted='interrupted; no output bag was written'
    )
    if status != 0:
        return status
    if not args.quiet:
        print(_summary(metrics))
        print(
            'wrote {}/metrics.json, metrics.md, latency.png{} and {}/'.format(
                args.out,
                ', topdown.png' if metrics.get('topdown_plot') else '',
                metrics['output_bag'],
            )
        )
    return 0


def build_make_bag_parser() -> argparse.ArgumentParser:
    """Argument parser of make_bag (flags of docs/EVALUATION.md)."""
    p = argparse.ArgumentParser(
        prog='make_bag',
        description='Write a synthetic drone-flight rosbag2 with ground '
        'truth, to try tools/eval_bag.py in one command.',
    )
    p.add_argument(
        '--out',
        required=True,
        help='bag directory to create (COCO ground truth goes to OUT_gt.json)',
    )
    p.add_argument('--frames', type=int, default=60, help='number of camera frames (default 60)')
    p.add_argument(
        '--storage',
        choices=('mcap', 'sqlite3'),
        default='mcap',
        help='rosbag2 storage (default mcap)',
    )
    p.add_argument(
        '--compressed', action='store_true', help='also write /camera/image_raw/compressed (jpeg)'
    )
    p.add_argument(
        '--no-raw', action='store_true', help='do not write /camera/image_raw (needs --compressed)'
    )
    p.add_argument(
        '--compression',
        choices=('none', 'file', 'message', 'storage'),
        default='none',
        help='rosbag2 zstd compression (storage = mcap chunk compression; default none)',
    )
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument(
        '--fps', type=float, default=10.0, help='camera rate, sets the stamps (default 10)'
    )
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--gt-json', default=None, help='COCO ground-truth path (default OUT_gt.json)')
    p.add_argument('--overwrite', action='store_true', help='replace an existing bag')
    p.add_argument(
        '--masks',
        action='store_true',
        help='also write segmentation label maps to OUT_masks/<stamp_ns>.png (--gt of '
        'segmentation bundles)',
    )
    p.add_argument(
        '--altitude',
        type=float,
        default=15.0,
        help='flight height above flat ground, metres (default 15)',
    )
    p.add_argument(
        '--tilt-deg',
        type=float,
        default=0.0,
        help='camera axis from straight down, towards the heading, degrees (default 0: nadir)',
    )
    p.add_argument(
        '--hfov-deg',
        type=float,
        default=60.0,
        help='horizontal field of view, degrees (default 60)',
    )
    p.add_argument('--speed', type=float, default=2.0, help='ground speed, m/s (default 2)')
    p.add_argument(
        '--heading-deg',
        type=float,
        default=None,
        help='track heading, degrees counter-clockwise from east (default: from the seed)',
    )
    p.add_argument(
        '--persons-per-frame',
        type=float,
        default=5.0,
        help='persons per nadir footprint of ground, on average (default 5)',
    )
    return p


def _make_bag_summary(info: dict, args: argparse.Namespace) -> List[str]:
    lines = [
        'wrote {} ({} frames, {} storage; {:g} m, tilt {:g} deg, {:.4f} m/px at the image '
        'centre): {}'.format(
            info['bag'],
            info['frames'],
            args.storage,
            args.altitude,
            args.tilt_deg,
            info['gsd_m'] or 0.0,
            ', '.join(sorted(info['topics'])),
        ),
        'ground truth {}: {}'.format(
            info['gt_json'],
            ', '.join('{} {}'.format(k, v) for k, v in info['annotations'].items()),
        ),
    ]
    if info.get('masks_dir'):
        lines.append('segmentation masks {}/<stamp_ns>.png'.format(info['masks_dir']))
    return lines


def make_bag_main(argv: Optional[List[str]] = None) -> int:
    """
    Run make_bag; return the exit status.

    2 with one line on a bad option, 130 when interrupted.
    """
    from .synthetic import write_synthetic_bag
    from ..cli import run_guarded

    args = build_make_bag_parser().parse_args(argv)

    def write() -> dict:
        return write_synthetic_bag(
            args.out,
            args.frames,
            seed=args.seed,
            width=args.width,
            height=args.height,
            fps=args.fps,
            storage=args.storage,
            raw=not args.no_raw,
            compressed=args.compressed,
            compression=args.compression,
            gt_json=args.gt_json,
            overwrite=args.overwrite,
            masks=args.masks,
            altitude=args.altitude,
            tilt_deg=args.tilt_deg,
            hfov_deg=args.hfov_deg,
            speed=args.speed,
            heading_deg=args.heading_deg,
            persons_per_frame=args.persons_per_frame,
        )

    status, info = run_guarded(
        'make_bag',
        write,
        (VitedgeError, ValueError, FileExistsError),
        interrupted='interrupted; no bag was written',
    )
    if status == 0:
        print('\n'.join(_make_bag_summary(info, args)))
    return status


if __name__ == '__main__':
    sys.exit(main())
