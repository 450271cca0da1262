# cwb_add_proto_library(NAME ROOT PROTOS...): C++ messages and gRPC stubs for PROTOS (paths under
# ROOT, which is also the import root), compiled into static library NAME.
# cwb_add_proto_messages(NAME ROOT PROTOS...): messages only, into NAME (no gRPC), and their
# sources in NAME_SOURCES for a target that links protobuf its own way (the static cwb-audit).
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(cwb_add_proto_library name root)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  set(srcs)
  foreach(rel ${ARGN})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(outs ${out}/${stem}.pb.cc ${out}/${stem}.pb.h ${out}/${stem}.grpc.pb.cc ${out}/${stem}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc --proto_path=${root} --cpp_out=${out} --grpc_out=${out}
              --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN} ${root}/${rel}
      DEPENDS ${root}/${rel}
      COMMENT "protoc ${rel}")
    list(APPEND srcs ${out}/${stem}.pb.cc ${out}/${stem}.grpc.pb.cc)
  endforeach()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} SYSTEM PUBLIC ${out})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  target_compile_options(${name} PRIVATE -w)  # generated code is not ours to warn about
endfunction()

function(cwb_add_proto_messages name root)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  set(srcs)
  foreach(rel ${ARGN})
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    add_custom_command(
      OUTPUT ${out}/${stem}.pb.cc ${out}/${stem}.pb.h
      COMMAND protobuf::protoc --proto_path=${root} --cpp_out=${out} ${root}/${rel}
      DEPENDS ${root}/${rel}
      COMMENT "protoc ${rel}")
    list(APPEND srcs ${out}/${stem}.pb.cc)
  endforeach()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} SYSTEM PUBLIC ${out})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf)
  target_compile_options(${name} PRIVATE -w)
  set(${name}_SOURCES ${srcs} PARENT_SCOPE)
  set(${name}_INCLUDE ${out} PARENT_SCOPE)
endfunction()
