// SPDX-License-Identifier: Apache-2.0
// JSON text and YAML-to-JSON, shared by rampartd and rampartctl.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace rampart::util {

// Compact JSON, or indented by `indent` spaces.
std::string to_json(const Poco::Dynamic::Var& v, unsigned indent = 0);

// A YAML node as JSON values: maps keep their order, unquoted scalars that
// read as integers, numbers or booleans become those.
Poco::Dynamic::Var from_yaml(const YAML::Node& node);

}  // namespace rampart::util
