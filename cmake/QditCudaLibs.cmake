# Makes CUDA::cudart, CUDA::cublasLt, CUDA::cublas and CUDA::cudnn exist even where the toolkit that nvcc belongs
# to lacks the libraries: on the lent GPU machines they come from the NVIDIA pip wheels of the PyTorch image
# (site-packages/nvidia/<pkg>/lib or nvidia/cu13/lib). Extra folders can be given in QDIT_CUDA_LIB_HINTS.
# cuDNN 9 is part of the required CUDA stack (attention runs through its fused SDPA engine): a CUDA build without
# it stops here with a message instead of building a backend that lacks it.
set(QDIT_CUDA_LIB_HINTS "" CACHE STRING "Extra folders holding libcublasLt/libcublas/libcudart/libcudnn")
execute_process(COMMAND python3 -c "import nvidia; print(next(iter(nvidia.__path__)))"
                OUTPUT_VARIABLE _qdit_nv OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _qdit_nv_rc)
set(_qdit_hint_dirs ${QDIT_CUDA_LIB_HINTS})
if(_qdit_nv_rc EQUAL 0 AND IS_DIRECTORY "${_qdit_nv}")
  file(GLOB _qdit_nv_libdirs LIST_DIRECTORIES true "${_qdit_nv}/*/lib")
  list(APPEND _qdit_hint_dirs ${_qdit_nv_libdirs})
endif()

# Extra arguments after `header` are further file names to accept (the wheels ship only the versioned soname,
# e.g. libcudnn.so.9, without the unversioned link).
function(qdit_cuda_lib target libname header)
  if(TARGET CUDA::${target})
    return()
  endif()
  find_library(_qdit_lib_${target} NAMES ${libname} lib${libname}.so.13 lib${libname}.so.12 ${ARGN}
               HINTS ${_qdit_hint_dirs} ${CUDAToolkit_LIBRARY_DIR} NO_CACHE)
  if(NOT _qdit_lib_${target})
    set(QDIT_CUDA_MISSING ${QDIT_CUDA_MISSING} "${libname} (library)" PARENT_SCOPE)
    return()
  endif()
  get_filename_component(_dir "${_qdit_lib_${target}}" DIRECTORY)
  find_path(_qdit_inc_${target} ${header} HINTS "${_dir}/../include" ${CUDAToolkit_INCLUDE_DIRS} NO_CACHE)
  if(NOT _qdit_inc_${target})
    set(QDIT_CUDA_MISSING ${QDIT_CUDA_MISSING} "${header} (header)" PARENT_SCOPE)
    return()
  endif()
  add_library(CUDA::${target} SHARED IMPORTED GLOBAL)
  set_target_properties(CUDA::${target} PROPERTIES IMPORTED_LOCATION "${_qdit_lib_${target}}"
                                                   INTERFACE_INCLUDE_DIRECTORIES "${_qdit_inc_${target}}")
  message(STATUS "qdit: CUDA::${target} from ${_qdit_lib_${target}}")
endfunction()

# Each call adds what it could not find to QDIT_CUDA_MISSING; CMakeLists.txt decides (QDIT_CUDA=ON: a configure
# error naming them; AUTO: a CPU-only build with a warning naming them).
set(QDIT_CUDA_MISSING "")
qdit_cuda_lib(cudart cudart cuda_runtime.h)
qdit_cuda_lib(cublasLt cublasLt cublasLt.h)
qdit_cuda_lib(cublas cublas cublas_v2.h)
qdit_cuda_lib(cudnn cudnn cudnn.h libcudnn.so.9)
