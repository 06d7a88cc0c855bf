# Renderer (parsers/pml/pml_render*.c): exact strings for real corpus events,
# hand-made and damaged detail blocks, and per-file agreement of the five
# rendered columns with Procmon's own CSV exports.
fb_add_check_test(test_pml_render SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_render.c LIBS fb_pml)

fb_add_fuzzer(fuzz_pml_render ${CMAKE_CURRENT_LIST_DIR}/fuzz_pml_render.c LIBS fb_pml
  SEEDS ${FLTBLAME_CORPUS}/pml/win10-22h2-x64-covefs.pml
        ${FLTBLAME_CORPUS}/pml/win10-1909-x64-cldflt-readfile.pml)
