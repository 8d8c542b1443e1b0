"""Writing weights files: the network as TorchScript with float16 parameters and its metadata
(engine/model.py loads them).  Needs torch and numpy, not PySCF (the GPU training kit exports
where PySCF is absent)."""
import copy
import json
import os
import warnings

import torch

from pyscf.deepscf.engine.model import FORMAT_VERSION, input_metadata, load


def make_metadata(config, spacing_bohr, margin_bohr, **extra):
    """The metadata stored with exported weights (what a loader checks); grid spacing and box
    margin in bohr."""
    return {'format_version': FORMAT_VERSION, 'config': config, **input_metadata(),
            'spacing_bohr': float(spacing_bohr), 'margin_bohr': float(margin_bohr), **extra}


def _save(module, path, metadata):
    """Write ``module`` (nn.Module or TorchScript) with float16 parameters and ``metadata``
    (also into NAME.json beside the file where one exists); returns the metadata written.

    float16 halves the file (the GPU kit's working tree must stay small) and model.load
    computes in float32; the rounding is far below the network's own error
    (docs/measurements.md).
    """
    if not isinstance(module, torch.jit.ScriptModule):
        module = torch.jit.script(module)
    metadata = {**metadata, 'parameter_dtype': 'float16'}
    with warnings.catch_warnings():          # TorchScript is deprecated, but still the format
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.jit.save(module.half(), path,
                       _extra_files={'metadata.json': json.dumps(metadata, indent=1)})
    sidecar = os.path.splitext(path)[0] + '.json'       # the bundled weights' readable copy
    if os.path.exists(sidecar):
        with open(sidecar, 'w') as f:
            json.dump(metadata, f, indent=1)
    return metadata


def export(model, path, metadata):
    """Save a copy of ``model`` (a model.UNet3D) as TorchScript at ``path`` (float16
    parameters) with ``metadata`` (dict) in metadata.json; ``model`` itself is left as it is."""
    model = copy.deepcopy(model).cpu().eval()
    metadata = {**metadata, 'factor': model.factor, 'receptive_radius': model.receptive_radius}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _save(model, path, metadata)


def update_metadata(path, updates, out=None):
    """Write the weights file ``path`` again (to ``out``, default in place) with its metadata
    updated by the dict ``updates``; the network is unchanged (a float32 file of an older
    version is written with float16 parameters).  Returns the new metadata."""
    module, meta = load(path)
    return _save(module, out or path, {**meta, **updates})
