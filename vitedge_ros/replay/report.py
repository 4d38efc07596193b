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

"""Human-readable outputs of a bag replay: ``metrics.md`` and the latency-over-time plot."""

from pathlib import Path
from typing import Any, Dict, Sequence, Union

from ..eval.plots import save_figure

__all__ = ['metrics_markdown', 'plot_latency']

_STEPS = (
    'deserialize',
    'decode',
    'preprocess',
    'inference',
    'postprocess',
    'pipeline',
    'end_to_end',
)


def _f(value: Any, digits: int = 2) -> str:
    return '{:.{}f}'.format(float(value), digits) if value is not None else '-'


def metrics_markdown(m: Dict[str, Any]) -> str:
    """Render ``metrics.json`` content as a short Markdown report."""
    lines = [
        '# Bag replay: {}'.format(m.get('bundle', {}).get('name', '?')),
        '',
        '| | |',
        '|---|---|',
        '| bag | `{}` ({}) |'.format(m['bag'], m.get('storage') or '?'),
        '| image topic | `{}` ({}) |'.format(m['image_topic'], m.get('image_msgtype', '?')),
        '| bundle | `{}` (backend {}) |'.format(
            m['bundle'].get('path', ''), m.get('backend', '?')
        ),
        '| clock | {}{} |'.format(
            m['mode'], ' x{:g}'.format(m['rate']) if m['mode'] == 'realtime' else ''
        ),
        '| frames in / processed / failed / dropped | {} / {} / {} / {} |'.format(
            m['frames_in'], m['frames_processed'], m['frames_failed'], m['frames_dropped']
        ),
        '| throughput | {} frames/s (bag rate {} frames/s) |'.format(
            _f(m['fps'], 1), _f(m.get('input_fps'), 1)
        ),
        '| peak RSS | {} MB (torch imported: {}) |'.format(
            _f(m.get('peak_rss_mb'), 0), 'yes' if m.get('torch_imported') else 'no'
        ),
        '',
    ]
    if m.get('failure_reasons'):
        lines += ['## Failed frames', '', '| reason | frames |', '|---|---|']
        lines += ['| {} | {} |'.format(k, v) for k, v in sorted(m['failure_reasons'].items())]
        lines += ['']
        for fail in m.get('failures', [])[:5]:
            lines.append(
                '- frame {} (stamp {}): {}'.format(fail['index'], fail['stamp_ns'], fail['error'])
            )
        lines.append('')
    lines += ['## Latency (ms)', '', '| step | mean | p50 | p95 | max |', '|---|---|---|---|---|']
    for step in _STEPS:
        s = m['latency_ms'].get(step)
        if s and s.get('n'):
            lines.append(
                '| {} | {} | {} | {} | {} |'.format(
                    step, _f(s['mean_ms']), _f(s['median_ms']), _f(s['p95_ms']), _f(s['max_ms'])
                )
            )
    lines += ['', '## Detections per class', '', '| class | detections |', '|---|---|']
    for name, count in m['detections_per_class'].items():
        lines.append('| {} | {} |'.format(name, count))
    lines += _geometry_markdown(m)
    acc = m.get('accuracy')
    if acc and 'miou' in acc:
        lines += [
            '',
            '## Segmentation accuracy',
            '',
            'Ground truth: `{}`; {} frames scored in input-image pixels ({} frames without a '
            'mask).'.format(acc['gt_source'], acc['frames_evaluated'], acc['frames_without_gt']),
            '',
            '| class | IoU |',
            '|---|---|',
            '| **mIoU** | {} |'.format(_f(acc['miou'], 4)),
        ]
        for name, iou in acc['per_class_iou'].items():
            lines.append('| {} | {} |'.format(name, _f(iou, 4)))
        lines.append('| pixel accuracy | {} |'.format(_f(acc['pixel_acc'], 4)))
    elif acc:
        lines += [
            '',
            '## Accuracy (COCO, faster-coco-eval)',
            '',
            (
                'Ground truth: `{}`; {} of {} images evaluated '
                '({} frames without ground truth).'
            ).format(
                acc['gt_source'],
                acc['images_evaluated'],
                acc['images_total'],
                acc['frames_without_gt'],
            ),
            '',
            '| class | AP@0.5 | AP@0.5:0.95 |',
            '|---|---|---|',
            '| **all** | {} | {} |'.format(_f(acc['map50'], 4), _f(acc['map50_95'], 4)),
        ]
        for name, ap in acc['per_class'].items():
            lines.append('| {} | {} | {} |'.format(name, _f(ap['ap50'], 4), _f(ap['ap50_95'], 4)))
        lines += [
            '',
            'Re-evaluate with `{}` and `{}`.'.format(acc['gt_file'], acc['detections_file']),
        ]
    return '\n'.join(lines) + '\n'


def _pct(value: Any) -> str:
    return '{:.1%}'.format(float(value)) if value is not None else '-'


def _geometry_markdown(m: Dict[str, Any]) -> list:
    """
    Return the report sections on camera geometry and person localisation.

    They also cover obstacle bearings and the clear-path flag.
    """
    cam = m.get('camera')
    if not cam:
        return []
    lines = ['', '## Camera and poses', '']
    if cam.get('note'):
        lines.append('No person targets: {}.'.format(cam['note']))
    else:
        failed = sum((cam.get('pose_failures') or {}).values())
        lines.append(
            'CameraInfo `{}` ({} messages); TF frames {}; targets in `{}`; pose lookups {} ok, {} '
            'failed.'.format(
                cam.get('camera_info_topic'),
                cam.get('camera_infos'),
                ', '.join(cam.get('tf_frames') or []) or '-',
                cam.get('target_frame') or '-',
                cam.get('pose_lookups_ok', 0),
                failed,
            )
        )
    for kind, count in sorted((cam.get('pose_failures') or {}).items()):
        lines.append('- {} frame(s): {}'.format(count, kind))
    loc = m.get('localisation')
    if loc:
        lines += [
            '',
            '## Person localisation',
            '',
            'Targets matched one-to-one ({}) to true ground positions within {:g} m.'.format(
                loc['matcher'], loc['gate_m']
            ),
            '',
            '| | |',
            '|---|---|',
            '| persons localised | {} of {} ({}) |'.format(
                loc['persons_localised'], loc['persons_true'], _pct(loc['recall'])
            ),
            '| horizontal error median / p95 | {} m / {} m |'.format(
                _f(loc['median_m']), _f(loc['p95_m'])
            ),
            '| within 1 m / 2 m | {} / {} |'.format(
                _pct(loc['within_1m']), _pct(loc['within_2m'])
            ),
            '| false targets | {} ({} per frame) |'.format(
                loc['false_targets'], _f(loc['false_targets_per_frame'])
            ),
            '',
        ]
        if m.get('topdown_plot'):
            lines.append('![top-down]({})'.format(m['topdown_plot']))
    ob = m.get('obstacles')
    if ob:
        lines += [
            '',
            '## Obstacle bearings',
            '',
            '{} of {} true obstacles matched within {:g} deg; bearing error median {} deg, p95 {} '
            'deg.'.format(
                ob['obstacles_matched'],
                ob['obstacles_true'],
                ob['gate_deg'],
                _f(ob['bearing_error_median_deg']),
                _f(ob['bearing_error_p95_deg']),
            ),
        ]
    cp = m.get('clear_path')
    if cp:
        lines += [
            '',
            '## Clear path',
            '',
            'Accuracy {} over {} frames ({} truly clear, {} truly blocked): {} false alarms, {} '
            'misses.'.format(
                _pct(cp['accuracy']),
                cp['frames_evaluated'],
                cp['truly_clear'],
                cp['truly_blocked'],
                cp['false_alarms'],
                cp['misses'],
            ),
        ]
    return lines


def plot_latency(
    path: Union[str, Path],
    times_s: Sequence[float],
    series: Dict[str, Sequence[float]],
    dropped_s: Sequence[float] = (),
    failed_s: Sequence[float] = (),
    title: str = '',
) -> None:
    """Plot latency series (ms) over bag time (s) to a PNG, marking dropped and failed frames."""
    import matplotlib

    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    try:
        for name, values in series.items():
            ax.plot(
                list(times_s), list(values), marker='.', markersize=3, linewidth=0.8, label=name
            )
        if dropped_s:
            ax.plot(
                list(dropped_s),
                [0.0] * len(dropped_s),
                linestyle='none',
                marker='|',
                color='tab:red',
                markersize=10,
                label='dropped ({})'.format(len(dropped_s)),
            )
        if failed_s:
            ax.plot(
                list(failed_s),
                [0.0] * len(failed_s),
                linestyle='none',
                marker='x',
                color='black',
                label='failed ({})'.format(len(failed_s)),
            )
        ax.set_xlabel('bag time (s)')
        ax.set_ylabel('latency (ms)')
        ax.set_ylim(bottom=0)
        save_figure(fig, ax, path, title, legend_loc='upper right')
    finally:
        plt.close(fig)
