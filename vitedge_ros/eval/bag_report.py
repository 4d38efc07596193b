"""Human-readable outputs of a bag replay: ``metrics.md`` and the latency-over-time plot."""
from pathlib import Path
from typing import Any, Dict, Sequence, Union

__all__ = ['metrics_markdown', 'plot_latency']

_STEPS = ('deserialize', 'decode', 'preprocess', 'inference', 'postprocess', 'pipeline', 'end_to_end')


def _f(value: Any, digits: int = 2) -> str:
    return '{:.{}f}'.format(float(value), digits) if value is not None else '-'


def metrics_markdown(m: Dict[str, Any]) -> str:
    """Render ``metrics.json`` content as a short Markdown report."""
    lines = ['# Bag replay: {}'.format(m.get('bundle', {}).get('name', '?')), '',
             '| | |', '|---|---|',
             '| bag | `{}` ({}) |'.format(m['bag'], m.get('storage') or '?'),
             '| image topic | `{}` ({}) |'.format(m['image_topic'], m.get('image_msgtype', '?')),
             '| bundle | `{}` (backend {}) |'.format(m['bundle'].get('path', ''), m.get('backend', '?')),
             '| clock | {}{} |'.format(m['mode'], ' x{:g}'.format(m['rate']) if m['mode'] == 'realtime' else ''),
             '| frames in / processed / failed / dropped | {} / {} / {} / {} |'.format(
                 m['frames_in'], m['frames_processed'], m['frames_failed'], m['frames_dropped']),
             '| throughput | {} frames/s (bag rate {} frames/s) |'.format(
                 _f(m['fps'], 1), _f(m.get('input_fps'), 1)),
             '| peak RSS | {} MB (torch imported: {}) |'.format(
                 _f(m.get('peak_rss_mb'), 0), 'yes' if m.get('torch_imported') else 'no'),
             '']
    if m.get('failure_reasons'):
        lines += ['## Failed frames', '', '| reason | frames |', '|---|---|']
        lines += ['| {} | {} |'.format(k, v) for k, v in sorted(m['failure_reasons'].items())]
        lines += ['']
        for fail in m.get('failures', [])[:5]:
            lines.append('- frame {} (stamp {}): {}'.format(fail['index'], fail['stamp_ns'], fail['error']))
        lines.append('')
    lines += ['## Latency (ms)', '', '| step | mean | p50 | p95 | max |', '|---|---|---|---|---|']
    for step in _STEPS:
        s = m['latency_ms'].get(step)
        if s and s.get('count'):
            lines.append('| {} | {} | {} | {} | {} |'.format(
                step, _f(s['mean']), _f(s['p50']), _f(s['p95']), _f(s['max'])))
    lines += ['', '## Detections per class', '', '| class | detections |', '|---|---|']
    for name, count in m['detections_per_class'].items():
        lines.append('| {} | {} |'.format(name, count))
    acc = m.get('accuracy')
    if acc and 'miou' in acc:
        lines += ['', '## Segmentation accuracy', '',
                  'Ground truth: `{}`; {} frames scored in input-image pixels ({} frames without a mask).'.format(
                      acc['gt_source'], acc['frames_evaluated'], acc['frames_without_gt']),
                  '', '| class | IoU |', '|---|---|', '| **mIoU** | {} |'.format(_f(acc['miou'], 4))]
        for name, iou in acc['per_class_iou'].items():
            lines.append('| {} | {} |'.format(name, _f(iou, 4)))
        lines.append('| pixel accuracy | {} |'.format(_f(acc['pixel_acc'], 4)))
    elif acc:
        lines += ['', '## Accuracy (COCO, faster-coco-eval)', '',
                  'Ground truth: `{}`; {} of {} images evaluated ({} frames without ground truth).'.format(
                      acc['gt_source'], acc['images_evaluated'], acc['images_total'], acc['frames_without_gt']),
                  '', '| class | AP@0.5 | AP@0.5:0.95 |', '|---|---|---|',
                  '| **all** | {} | {} |'.format(_f(acc['map50'], 4), _f(acc['map50_95'], 4))]
        for name, ap in acc['per_class'].items():
            lines.append('| {} | {} | {} |'.format(name, _f(ap['ap50'], 4), _f(ap['ap50_95'], 4)))
        lines += ['', 'Re-evaluate with `{}` and `{}`.'.format(acc['gt_file'], acc['detections_file'])]
    return '\n'.join(lines) + '\n'


def plot_latency(path: Union[str, Path], times_s: Sequence[float], series: Dict[str, Sequence[float]],
                 dropped_s: Sequence[float] = (), failed_s: Sequence[float] = (), title: str = '') -> None:
    """Plot latency series (ms) over bag time (s) to a PNG, marking dropped and failed frames."""
    import matplotlib

    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    try:
        for name, values in series.items():
            ax.plot(list(times_s), list(values), marker='.', markersize=3, linewidth=0.8, label=name)
        if dropped_s:
            ax.plot(list(dropped_s), [0.0] * len(dropped_s), linestyle='none', marker='|', color='tab:red',
                    markersize=10, label='dropped ({})'.format(len(dropped_s)))
        if failed_s:
            ax.plot(list(failed_s), [0.0] * len(failed_s), linestyle='none', marker='x', color='black',
                    label='failed ({})'.format(len(failed_s)))
        ax.set_xlabel('bag time (s)')
        ax.set_ylabel('latency (ms)')
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc='upper right', fontsize=8)
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
        tmp = Path(path).with_name('.' + Path(path).name + '.tmp.png')
        fig.savefig(str(tmp))
        tmp.replace(path)
    finally:
        plt.close(fig)
