#!/usr/bin/env python3
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
Rewrite an old (version-1, pickled nn.Module) checkpoint as tensors + a structure description.

    tools/convert_checkpoint.py OLD.pt --trust-checkpoint [--out NEW.pt]  # default: OLD.pt itself

Console script ``vitedge_convert_checkpoint``. Options and exit codes: ``--help``,
vitedge_ros/checkpoint_cli.py.
"""


from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.checkpoint_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
