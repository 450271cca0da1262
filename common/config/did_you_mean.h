// Spelling suggestions for unknown keys and values.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cwb {

// Levenshtein distance between two strings (case-sensitive).
int EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo (distance at most
// max(2, |word| / 3)), else nullopt. Ties go to the earlier candidate.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        std::span<const std::string_view> candidates);

// " (did you mean 'x'?)" or "" when nothing is close.
std::string DidYouMeanSuffix(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace cwb
