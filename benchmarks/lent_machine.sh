# Sourced by the GPU jobs: installs the carried wheels of what a lent machine's python3 lacks.
# The machines reach no network; carry the wheels in .whl/ (ignored by git):
#   .whl/ml_collections-*.whl                 (the configs)
#   .whl/grain/{grain,array_record,cloudpickle,portpicker}-*.whl   (stream.loader='grain'; cp312 wheels:
#   pip download grain array-record cloudpickle portpicker --no-deps --only-binary=:all: \
#     --python-version 3.12 --platform manylinux_2_28_x86_64 -d .whl/grain)
# Each is installed only where its module does not import, into /tmp/site on PYTHONPATH.
PY=${PYTHON:-python3}
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
install_if_missing() {  # install_if_missing MODULE WHEEL_GLOB
  if ! $PY -c "import $1" 2>/dev/null && compgen -G "$2" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $2
  fi
}
install_if_missing ml_collections ".whl/ml_collections*.whl"
for dep in array_record cloudpickle portpicker grain; do
  install_if_missing "$dep" ".whl/grain/${dep}-*.whl"
done
