# Warnings for FastGPU's own targets (not for third-party code).
function(fastgpu_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(FASTGPU_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(FASTGPU_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
