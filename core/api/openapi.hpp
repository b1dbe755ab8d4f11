// SPDX-License-Identifier: Apache-2.0
// The OpenAPI 3.0 document of the management API, generated from the rule
// domains the engines registered (each with its JSON schema), so it always
// matches what the running agent serves.
#pragma once

#include <string>
#include <vector>

#include "store/rule_service.hpp"

namespace rampart::api {

std::string openapi_document(const std::vector<store::DomainInfo>& domains);

}  // namespace rampart::api
