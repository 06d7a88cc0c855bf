# Fuzz targets live beside their area's tests (tests/AREA/*.cmake); this folder
# holds the runner (run.sh) only.
