// SPDX-License-Identifier: Apache-2.0
// libbpf prints its own messages (to stderr unless told otherwise); in
// rampartd they must come out of the core logger like every other line, so
// `log_format: json` stays one JSON object per line.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>
#include <bpf/libbpf.h>

#include <string>

#include "bpf/program_instance.hpp"
#include "log_capture.hpp"
#include "temp_dir.hpp"
#include "test_paths.hpp"

namespace {

using rampart::log::Format;
using rampart::log::Level;

// Leaves the logger as the other tests expect it (text, info).
class LibbpfLog : public ::testing::Test {
 protected:
  void TearDown() override { rampart::log::Logger::global().configure(Level::info, Format::text); }
};

// The captured lines that are JSON objects from component "libbpf"; a line
// that is not JSON fails the test.
std::vector<Poco::JSON::Object::Ptr> libbpf_records(rampart::test::LogCapture& log) {
  std::vector<Poco::JSON::Object::Ptr> out;
  for (const auto& line : log.lines()) {
    Poco::JSON::Object::Ptr obj;
    try {
      obj = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a JSON object: " << line;
      continue;
    }
    if (obj && obj->getValue<std::string>("component") == "libbpf") out.push_back(obj);
  }
  return out;
}

// A file that is not an ELF object, loaded the way rampartd and the tests
// load programs: libbpf's complaint is a warn record, and nothing reaches
// stderr around the logger.
TEST_F(LibbpfLog, WarningsOfAFailedLoadAreJsonRecords) {
  rampart::test::LogCapture log;
  rampart::log::Logger::global().configure(Level::info, Format::json);
  rampart::test::TempDir dir;
  const std::string path = dir / "broken.bpf.o";
  rampart::test::write_file(path, "not an ELF object\n");
  rampart::bpf::InstanceSpec spec;
  spec.object_path = path;
  spec.program = "xdp_root";
  testing::internal::CaptureStderr();
  EXPECT_THROW(rampart::bpf::ProgramInstance::load(spec), rampart::bpf::BpfError);
  const std::string raw = testing::internal::GetCapturedStderr();
  EXPECT_EQ(raw, "") << "libbpf wrote around the logger";
  const auto records = libbpf_records(log);
  ASSERT_FALSE(records.empty()) << log.dump();
  for (const auto& r : records) {
    EXPECT_EQ(r->getValue<std::string>("level"), "warn");
    const auto msg = r->getValue<std::string>("msg");
    EXPECT_FALSE(msg.empty());
    EXPECT_NE(msg.back(), '\n') << "the trailing newline is the logger's business";
    EXPECT_NE(msg.rfind("libbpf: ", 0), 0u) << "the component already says libbpf: " << msg;
  }
  EXPECT_GE(log.count("broken.bpf.o"), 1u) << log.dump();
}

// Opening a real object makes libbpf talk at debug level: nothing at info,
// debug records (and nothing else from libbpf) at debug.
TEST_F(LibbpfLog, DebugMessagesOnlyAtDebugLevel) {
  const std::string object = rampart::test::path::bpf() + "/rampart_root.bpf.o";
  const auto open_and_close = [&] {
    testing::internal::CaptureStderr();
    // The core's loader routes libbpf's output (a failed load will do) ...
    rampart::bpf::InstanceSpec spec;
    spec.object_path = "/nonexistent/rampart-test.bpf.o";
    EXPECT_THROW(rampart::bpf::ProgramInstance::load(spec), rampart::bpf::BpfError);
    // ... for every later libbpf call in the process.
    bpf_object* obj = bpf_object__open_file(object.c_str(), nullptr);
    EXPECT_NE(obj, nullptr) << object;
    bpf_object__close(obj);
    return testing::internal::GetCapturedStderr();
  };
  {
    rampart::test::LogCapture log;
    rampart::log::Logger::global().configure(Level::info, Format::json);
    EXPECT_EQ(open_and_close(), "");
    for (const auto& r : libbpf_records(log))
      EXPECT_NE(r->getValue<std::string>("level"), "debug") << log.dump();
  }
  {
    rampart::test::LogCapture log;
    rampart::log::Logger::global().configure(Level::debug, Format::json);
    EXPECT_EQ(open_and_close(), "");
    size_t debug = 0;
    for (const auto& r : libbpf_records(log)) debug += r->getValue<std::string>("level") == "debug";
    EXPECT_GE(debug, 1u) << log.dump();
  }
}

}  // namespace
