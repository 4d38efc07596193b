"""ament_python package definition for vitedge_ros (also installable with plain pip)."""
import os
from glob import glob

from setuptools import find_packages, setup

package_name = 'vitedge_ros'


def _tree(src: str):
    """List (install_dir, [files]) pairs for every folder under src (data_files format)."""
    out = []
    for root, _dirs, files in os.walk(src):
        paths = [os.path.join(root, f) for f in files if not f.endswith('.engine')]
        if paths:
            out.append((os.path.join('share', package_name, root), paths))
    return out


RUNTIME = ['numpy>=1.17', 'opencv-python-headless>=4.5', 'onnxruntime>=1.10', 'pyyaml>=5.1']
TOOLS = [
    'torch>=2.1', 'torchvision', 'timm>=0.9', 'onnx>=1.14', 'onnxslim', 'onnxscript', 'torch-pruning>=1.4',
    'rosbags>=0.10', 'faster-coco-eval>=1.5', 'scikit-learn', 'scikit-image', 'matplotlib', 'tqdm', 'mcap',
]
setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'tools']),
    package_data={'vitedge_ros.ros': ['msg/vision_msgs/*', 'msg/vision_msgs_foxy/*', 'msg/vision_msgs_galactic/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.py')),
    ] + _tree('config') + _tree('models'),
    python_requires='>=3.8',
    install_requires=['setuptools'],
    extras_require={
        'runtime': RUNTIME,
        'tools': RUNTIME + TOOLS,
        'jetson': RUNTIME + ['pycuda'],  # tensorrt comes with JetPack (python3-libnvinfer)
        'dev': ['pytest', 'ruff', 'flake8', 'pydocstyle'],
    },
    zip_safe=False,
    maintainer='vitedge_ros developers',
    maintainer_email='dev@vitedge.invalid',
    description='Compressed Vision Transformer perception for UAVs with a ROS 2 node.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'vitedge_node = vitedge_ros.ros.node:main',
        ],
    },
)
