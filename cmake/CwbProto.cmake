# cwb_add_proto_library(NAME ROOT [MESSAGES_ONLY] PROTOS...): C++ messages and gRPC stubs for
# PROTOS (paths under ROOT, which is also the import root), compiled into static library NAME.
# MESSAGES_ONLY: no gRPC stubs, and the compiled messages also in the object library
# NAME_objects, for a target that links protobuf its own way (the static cwb-audit).
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(cwb_add_proto_library name root)
  cmake_parse_arguments(ARG "MESSAGES_ONLY" "" "" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  set(srcs)
  foreach(rel ${ARG_UNPARSED_ARGUMENTS})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(outs ${out}/${stem}.pb.cc ${out}/${stem}.pb.h)
    set(grpc_args)
    if(NOT ARG_MESSAGES_ONLY)
      list(APPEND outs ${out}/${stem}.grpc.pb.cc ${out}/${stem}.grpc.pb.h)
      set(grpc_args --grpc_out=${out} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc --proto_path=${root} --cpp_out=${out} ${grpc_args} ${root}/${rel}
      DEPENDS ${root}/${rel}
      COMMENT "protoc ${rel}")
    list(FILTER outs INCLUDE REGEX "\\.cc$")
    list(APPEND srcs ${outs})
  endforeach()
  # Compiled once, as objects (the generated code is not ours to warn about); the library links them
  # with protobuf (and gRPC).
  add_library(${name}_objects OBJECT ${srcs})
  target_include_directories(${name}_objects SYSTEM PUBLIC ${out})
  target_include_directories(${name}_objects SYSTEM PRIVATE
    $<TARGET_PROPERTY:protobuf::libprotobuf,INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_options(${name}_objects PRIVATE -w)
  add_library(${name} STATIC $<TARGET_OBJECTS:${name}_objects>)
  target_include_directories(${name} SYSTEM PUBLIC ${out})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf)
  if(NOT ARG_MESSAGES_ONLY)
    target_include_directories(${name}_objects SYSTEM PRIVATE
      $<TARGET_PROPERTY:gRPC::grpc++,INTERFACE_INCLUDE_DIRECTORIES>)
    target_link_libraries(${name} PUBLIC gRPC::grpc++)
  endif()
endfunction()
