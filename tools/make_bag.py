#!/usr/bin/env python3
"""Write a synthetic drone-flight rosbag2 with ground truth, to try tools/eval_bag.py in one command.

    tools/make_bag.py --out flight --frames 60 [--storage mcap|sqlite3] [--compressed] [--no-raw]
                      [--altitude 15] [--tilt-deg 0] [--hfov-deg 60]
    tools/eval_bag.py flight --bundle models/aerial_vit_tiny --image-topic /camera/image_raw \
        --gt flight_gt.json --out flight_eval --params config/synthetic_world.yaml
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', required=True, help='bag directory to create (COCO ground truth goes to OUT_gt.json)')
    p.add_argument('--frames', type=int, default=60, help='number of camera frames (default 60)')
    p.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap', help='rosbag2 storage (default mcap)')
    p.add_argument('--compressed', action='store_true', help='also write /camera/image_raw/compressed (jpeg)')
    p.add_argument('--no-raw', action='store_true', help='do not write /camera/image_raw (needs --compressed)')
    p.add_argument('--compression', choices=('none', 'file', 'message', 'storage'), default='none',
                   help='rosbag2 zstd compression (storage = mcap chunk compression; default none)')
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--fps', type=float, default=10.0, help='camera rate, sets the stamps (default 10)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--gt-json', default=None, help='COCO ground-truth path (default OUT_gt.json)')
    p.add_argument('--overwrite', action='store_true', help='replace an existing bag')
    p.add_argument('--masks', action='store_true',
                   help='also write segmentation label maps to OUT_masks/<stamp_ns>.png (--gt of segmentation bundles)')
    p.add_argument('--altitude', type=float, default=15.0, help='flight height above flat ground, metres (default 15)')
    p.add_argument('--tilt-deg', type=float, default=0.0,
                   help='camera axis from straight down, towards the heading, degrees (default 0: nadir)')
    p.add_argument('--hfov-deg', type=float, default=60.0, help='horizontal field of view, degrees (default 60)')
    p.add_argument('--speed', type=float, default=2.0, help='ground speed, m/s (default 2)')
    p.add_argument('--heading-deg', type=float, default=None,
                   help='track heading, degrees counter-clockwise from east (default: from the seed)')
    p.add_argument('--persons-per-frame', type=float, default=5.0,
                   help='persons per nadir footprint of ground, on average (default 5)')
    args = p.parse_args(argv)

    from vitedge_ros.eval.bag_synthetic import write_synthetic_bag

    try:
        info = write_synthetic_bag(args.out, args.frames, seed=args.seed, width=args.width, height=args.height,
                                   fps=args.fps, storage=args.storage, raw=not args.no_raw,
                                   compressed=args.compressed, compression=args.compression,
                                   gt_json=args.gt_json, overwrite=args.overwrite, masks=args.masks,
                                   altitude=args.altitude, tilt_deg=args.tilt_deg, hfov_deg=args.hfov_deg,
                                   speed=args.speed, heading_deg=args.heading_deg,
                                   persons_per_frame=args.persons_per_frame)
    except (ValueError, FileExistsError) as exc:
        print('make_bag: error: {}'.format(exc), file=sys.stderr)
        return 2
    print('wrote {} ({} frames, {} storage; {:g} m, tilt {:g} deg, {:.4f} m/px at the image centre): {}'.format(
        info['bag'], info['frames'], args.storage, args.altitude, args.tilt_deg, info['gsd_m'] or 0.0,
        ', '.join(sorted(info['topics']))))
    print('ground truth {}: {}'.format(info['gt_json'], ', '.join(
        '{} {}'.format(k, v) for k, v in info['annotations'].items())))
    if info.get('masks_dir'):
        print('segmentation masks {}/<stamp_ns>.png'.format(info['masks_dir']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
