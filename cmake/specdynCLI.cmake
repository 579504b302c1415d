# specdyn_add_cli(<target> MODELS <name>... [ALIASES <alias>=<name>...] [INCLUDE_DIRS <dir>...])
#
# Builds a complete specdyn command line (list, train, theory, compare, equations, outliers, sweep,
# proportional, plot, demo) whose model registry holds the named declarations. Each <name> is a
# header <name>.hpp on the include path (the calling directory, INCLUDE_DIRS, or specdyn's own
# built-in models) that declares, in namespace specdyn::models,
#     inline constexpr auto <name> = network(input, dense | tanh, ..., readout);
# Each model's commands compile in their own translation unit, generated from instance.cpp.in; the
# command line itself (models/main.cpp) is linked in precompiled. ALIASES registers further names for
# a model's declaration (another name for the same network: nothing more is compiled).
# Used by specdyn's own build (models/CMakeLists.txt) and by projects that find_package(specdyn).
set_property(GLOBAL PROPERTY SPECDYN_CLI_DIR "${SPECDYN_CLI_DIR}")
set_property(GLOBAL PROPERTY SPECDYN_SCRIPTS_DIR "${SPECDYN_SCRIPTS_DIR}")

function(specdyn_add_cli target)
  cmake_parse_arguments(ARG "" "" "MODELS;ALIASES;INCLUDE_DIRS" ${ARGN})
  if(NOT ARG_MODELS)
    message(FATAL_ERROR "specdyn_add_cli(${target}): give the models, e.g. specdyn_add_cli(${target} MODELS my_net)")
  endif()
  get_property(cli_dir GLOBAL PROPERTY SPECDYN_CLI_DIR)
  get_property(scripts_dir GLOBAL PROPERTY SPECDYN_SCRIPTS_DIR)
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/${target}_models)
  set(sources)
  set(REGISTRY_DECLS "")
  set(REGISTRY_ENTRIES "")
  set(alias_entries "")
  foreach(model ${ARG_MODELS})
    if(NOT model MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
      message(FATAL_ERROR "specdyn_add_cli(${target}): model name '${model}' is not a C++ identifier")
    endif()
    set(MODEL ${model})
    configure_file(${cli_dir}/instance.cpp.in ${gen}/${model}.cpp @ONLY)
    list(APPEND sources ${gen}/${model}.cpp)
    string(APPEND REGISTRY_DECLS "model_entry entry_${model}(const char* name);\n")
    string(APPEND REGISTRY_ENTRIES "      entry_${model}(\"${model}\"),\n")
  endforeach()
  foreach(alias ${ARG_ALIASES})
    if(NOT alias MATCHES "^([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z_][A-Za-z0-9_]*)$")
      message(FATAL_ERROR "specdyn_add_cli(${target}): alias '${alias}' is not <alias>=<model>, e.g. ALIASES two_layer_linear=deep_linear2")
    endif()
    set(alias_name ${CMAKE_MATCH_1})
    set(alias_of ${CMAKE_MATCH_2})
    if(NOT alias_of IN_LIST ARG_MODELS)
      message(FATAL_ERROR "specdyn_add_cli(${target}): alias '${alias_name}' names '${alias_of}', which is not among the MODELS")
    endif()
    string(APPEND alias_entries "      entry_${alias_of}(\"${alias_name}\"),\n")
  endforeach()
  set(REGISTRY_ENTRIES "${alias_entries}${REGISTRY_ENTRIES}")  # aliases listed first
  configure_file(${cli_dir}/registry.cpp.in ${gen}/registry.cpp @ONLY)
  add_executable(${target} ${sources} ${gen}/registry.cpp)
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${ARG_INCLUDE_DIRS} ${cli_dir})
  # the command line proper (models/main.cpp) comes precompiled: specdyn_cli in specdyn's own build,
  # specdyn::cli from the installed package
  if(TARGET specdyn_cli)
    target_link_libraries(${target} PRIVATE specdyn_cli specdyn::specdyn)
  else()
    target_link_libraries(${target} PRIVATE specdyn::cli specdyn::specdyn)
  endif()
  target_compile_definitions(${target} PRIVATE SPECDYN_SCRIPTS_DIR="${scripts_dir}")
  # the headers every model's translation unit parses, parsed once: ≈ 3 s saved per model against
  # ≈ 19 s to build the precompiled header (docs/building.md), so only for four models or more
  list(LENGTH ARG_MODELS n_models)
  if(n_models GREATER_EQUAL 4)
    target_precompile_headers(${target} PRIVATE ${cli_dir}/registry.hpp)
  endif()
endfunction()
