"""clipdense: CLIP for dense prediction on the OpenMMLab 2.0 stack.

Install with ``pip install --no-build-isolation -e .`` so the C++/CUDA region-pooling ops compile
against the torch already in the environment (an isolated build would fetch a different torch).
The CPU kernels are always built; the CUDA kernels when CUDA is usable or ``FORCE_CUDA=1``.
"""
import glob
import os

from setuptools import find_packages, setup

OPS_DIR = os.path.join('clipdense', 'ops', 'csrc')


def read_version():
    namespace = {}
    with open(os.path.join('clipdense', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name):
    with open(os.path.join('requirements', name)) as f:
        return [line.split('#')[0].strip() for line in f if line.split('#')[0].strip()]


def ops_extensions():
    """Returns (ext_modules, cmdclass) for ``clipdense.ops._ext``; empty when no sources exist."""
    cpp_sources = sorted(glob.glob(os.path.join(OPS_DIR, '*.cpp')) +
                         glob.glob(os.path.join(OPS_DIR, 'cpu', '*.cpp')))
    if not cpp_sources:
        return [], {}
    import torch
    from torch.utils.cpp_extension import (CUDA_HOME, BuildExtension, CppExtension,
                                           CUDAExtension)
    with_cuda = os.getenv('FORCE_CUDA', '0') == '1' or (
        torch.cuda.is_available() and CUDA_HOME is not None)
    # -fopenmp: at::parallel_for only runs in parallel when the caller is compiled with OpenMP
    cxx_flags = ['-O3', '-std=c++17', '-fopenmp']
    if with_cuda:
        sources = cpp_sources + sorted(glob.glob(os.path.join(OPS_DIR, 'cuda', '*.cu')))
        extension = CUDAExtension(
            'clipdense.ops._ext', sources,
            define_macros=[('WITH_CUDA', None)],
            extra_compile_args={'cxx': cxx_flags,
                                'nvcc': ['-O3', '-std=c++17']},
            extra_link_args=['-fopenmp'])
    else:
        extension = CppExtension('clipdense.ops._ext', cpp_sources,
                                 extra_compile_args={'cxx': cxx_flags},
                                 extra_link_args=['-fopenmp'])
    return [extension], {'build_ext': BuildExtension.with_options(use_ninja=True)}


ext_modules, cmdclass = ops_extensions()

setup(
    name='clipdense',
    version=read_version(),
    description='CLIP for dense prediction (DenseCLIP, CLIP-DINOiser, OVSeg, BIRDet) '
    'on OpenMMLab 2.0',
    long_description=open('README.md').read() if os.path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    include_package_data=True,
    package_data={'clipdense': ['data/*.txt']},  # BIRDet's scene vocabulary
    python_requires='>=3.10',
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
