# Video files (runtime/input/video_file.c, video_decode.c, video_resize.c).
# The clips are made in the tests with the ffmpeg command line, which is also
# the reference: frames decoded at 1-4 ranks must equal its rgb24 output
# byte for byte. Without FFmpeg at build time only the refusal is tested.
add_executable(video_dump video/video_dump.c)
target_link_libraries(video_dump PRIVATE ctxpar_core)
add_executable(test_video_resize video/test_video_resize.c)
target_include_directories(test_video_resize PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(test_video_resize PRIVATE ctxpar_core)

find_program(CTXPAR_FFMPEG_CLI ffmpeg)
set(CTXPAR_VIDEO_ENV "${CTXPAR_PY_ENV};VIDEO_DUMP=$<TARGET_FILE:video_dump>;RESIZE_TOOL=$<TARGET_FILE:test_video_resize>")

function(ctxpar_add_video_test name labels)
  add_test(NAME ${name} COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/video/${name}.py)
  set_tests_properties(${name} PROPERTIES LABELS "video;${labels}"
                       ENVIRONMENT "${CTXPAR_VIDEO_ENV}" TIMEOUT 300)
endfunction()

if(FFMPEG_FOUND AND CTXPAR_FFMPEG_CLI)
  ctxpar_add_video_test(video_decode "mpi;e2e")
  ctxpar_add_video_test(video_select "mpi;e2e")
  ctxpar_add_video_test(video_resize "unit")
  ctxpar_add_video_test(video_processor "mpi;e2e;qwen2_vl")
  ctxpar_add_video_test(video_pipeline "mpi;e2e")
  ctxpar_add_video_test(video_badinput "badinput;e2e")
  # Debian's sample videos (launch/setup.sh --test installs them; skipped without)
  ctxpar_add_video_test(video_real "mpi;e2e")
  set_tests_properties(video_real PROPERTIES COST 300) # long: start it first
elseif(NOT FFMPEG_FOUND)
  ctxpar_add_video_test(video_unsupported "badinput")
endif()
