// SPDX-License-Identifier: Apache-2.0
#include "util/json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sstream>

namespace rampart::util {

std::string to_json(const Poco::Dynamic::Var& v, unsigned indent) {
  std::ostringstream os;
  Poco::JSON::Stringifier::stringify(v, os, indent);
  return os.str();
}

Poco::Dynamic::Var from_yaml(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      for (const auto& kv : n) o->set(kv.first.Scalar(), from_yaml(kv.second));
      return o;
    }
    case YAML::NodeType::Sequence: {
      Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
      for (const auto& e : n) a->add(from_yaml(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      if (n.Tag() != "!") {  // unquoted: numbers and booleans as such
        long long i = 0;
        double d = 0;
        bool b = false;
        if (YAML::convert<long long>::decode(n, i)) return i;
        if (YAML::convert<double>::decode(n, d)) return d;
        if (YAML::convert<bool>::decode(n, b)) return b;
      }
      return n.Scalar();
    }
    default:
      return Poco::Dynamic::Var();
  }
}

}  // namespace rampart::util
