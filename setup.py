"""ament_python package definition for vitedge_ros (also installable with plain pip)."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'vitedge_ros'


# Never installed into share/: training checkpoints (workstation side: models/checkpoints/*.pt is
# the start of the compression recipe, not something the drone runs) and engines (built on the
# target, keyed to its TensorRT/GPU).
SKIP_DIRS = ('checkpoints', 'engines')
SKIP_SUFFIXES = ('.engine', '.pt', '.pth', '.ckpt', '.safetensors', '.tmp')


def _tree(src: str):
    """
    List (install_dir, [files]) pairs for every folder under src (data_files format).

    Folders in SKIP_DIRS and files ending in SKIP_SUFFIXES are left out.
    """
    out = []
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        paths = [os.path.join(root, f) for f in sorted(files) if not f.endswith(SKIP_SUFFIXES)]
        if paths:
            out.append((os.path.join('share', package_name, root), paths))
    return out


# What runs on the drone. It must install on JetPack 4.6's Python 3.6 (Jetson Nano): there pip
# picks the last releases for 3.6 (numpy 1.19.5, onnxruntime 1.10.0, PyYAML 5.4/6.0) by their
# Requires-Python, but opencv-python-headless >= 4.7 publishes cp37 wheels and a source archive
# that pip on 3.6 would try to compile for hours, so 3.6 is held to the 4.5/4.6 wheels.
# requirements/jetson-py36.txt pins what `make test` checks.
PY36 = 'python_version < "3.7"'
RUNTIME = [
    'numpy>=1.19',
    'opencv-python-headless>=4.5,<4.7; ' + PY36,
    'opencv-python-headless>=4.5; python_version >= "3.7"',
    'onnxruntime>=1.10',
    'pyyaml>=5.1',
]
TOOLS = [
    'torch>=2.6',
    'torchvision',
    'timm>=0.9',
    'onnx>=1.14',
    'onnxslim',
    'onnxscript',
    'torch-pruning>=1.4',
    'rosbags>=0.10',
    'faster-coco-eval>=1.5',
    'scikit-learn',
    'scikit-image',
    'matplotlib',
    'tqdm',
    'mcap',
    # linear_sum_assignment: one-to-one matching of localised persons (eval/localisation.py)
    'scipy',
]
setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'tools']),
    package_data={
        'vitedge_ros.ros': [
            'msg/vision_msgs/*',
            'msg/vision_msgs_foxy/*',
            'msg/vision_msgs_galactic/*',
        ]
    },
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.py')),
    ]
    + _tree('config')
    + _tree('models'),
    python_requires='>=3.6',  # drone side; the tools extra needs >= 3.8 (torch 2)
    install_requires=['setuptools'],
    extras_require={
        'runtime': RUNTIME,
        'tools': RUNTIME + TOOLS,
        'jetson': RUNTIME + ['pycuda'],  # tensorrt comes with JetPack (python3-libnvinfer)
        # the ament linters' checkers at Ubuntu 22.04 (Humble) versions and the flake8 plugins
        # the ROS 2 docs install (constraints.txt pins them): test_flake8 / test_pep257 where
        # ament is absent
        'dev': [
            'pytest',
            'ruff; python_version >= "3.8"',
            'flake8',
            'pydocstyle',
            'flake8-blind-except',
            'flake8-builtins',
            'flake8-class-newline',
            'flake8-comprehensions',
            'flake8-deprecated',
            'flake8-docstrings',
            'flake8-import-order',
            'flake8-quotes',
        ],
        # The benchmark peer of issue 18 (`make bench-peer`, vitedge_ros/bench/peer.py only):
        # AGPL-3.0, so never a runtime or tools dependency. `make bench-peer` installs it without
        # its opencv-python requirement, the tools extra's headless OpenCV provides cv2 (two OpenCV
        # wheels overwrite each other).
        'peer': ['ultralytics==8.4.190'],
    },
    zip_safe=False,
    maintainer='vitedge_ros developers',
    maintainer_email='dev@vitedge.invalid',
    description='Compressed Vision Transformer perception for UAVs with a ROS 2 node.',
    license='Apache-2.0',
    tests_require=['pytest'],
    # The commands: in bin/ with pip, in lib/vitedge_ros/ with colcon (setup.cfg), for `ros2 run`.
    # The drone's (node, engine builder) need only the runtime extra; each tools/NAME.py is the
    # same main as vitedge_NAME, and the workstation ones say in one line which package of the
    # tools extra is missing (vitedge_ros/cli.py).
    entry_points={
        'console_scripts': [
            'vitedge_node = vitedge_ros.ros.startup:main',
            'vitedge_build_engine = vitedge_ros.runtime.build_engine_cli:main',
            'vitedge_trt_compat = vitedge_ros.export.trt_audit_cli:main',
            'vitedge_train = vitedge_ros.train_cli:main',
            'vitedge_compress = vitedge_ros.compress.cli:main',
            'vitedge_export_onnx = vitedge_ros.export.cli:main',
            'vitedge_convert_checkpoint = vitedge_ros.checkpoint_cli:main',
            'vitedge_benchmark = vitedge_ros.bench.cli:main',
            'vitedge_predict = vitedge_ros.predict:main',
            'vitedge_evaluate = vitedge_ros.eval.images:main',
            'vitedge_false_positives = vitedge_ros.eval.false_positives_cli:main',
            'vitedge_resize_study = vitedge_ros.eval.resize_study_cli:main',
            'vitedge_demo = vitedge_ros.demo_cli:main',
            'vitedge_eval_bag = vitedge_ros.replay.cli:main',
            'vitedge_make_bag = vitedge_ros.replay.cli:make_bag_main',
        ],
    },
)
