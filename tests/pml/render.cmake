# Renderer (parsers/pml/pml_render*.c): exact strings for real corpus events,
# hand-made and damaged detail blocks, and per-file agreement of the five
# rendered columns with Procmon's own CSV exports.
fb_add_check_test(test_pml_render SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_render.c LIBS fb_pml)
