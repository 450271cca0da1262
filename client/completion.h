// Shell completion for cwb, generated from the CLI's own definition so it cannot drift from it:
// `cwb completion bash` and `cwb completion zsh` print a script completing subcommands and their
// flags (files for the rest).
#pragma once

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace cwb {

// The script for `shell` ("bash" or "zsh") completing `app`'s subcommands and flags.
std::string CompletionScript(const CLI::App& app, std::string_view shell);

}  // namespace cwb
