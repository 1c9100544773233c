#include "cli/table.h"

#include <gtest/gtest.h>

#include "core/tuf/rfc3339.h"

namespace porthole::cli {
namespace {

SystemTime T(const char* text) { return tuf::ParseRfc3339(text).value(); }

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  Table t({"NAME", "TUNNEL", "SESSION"});
  t.AddRow({"dev-7", "up", "s-1"});
  t.AddRow({"a-much-longer-name", "down", ""});
  t.AddRow({"x"});  // short rows are padded
  EXPECT_EQ(t.Render(),
            "NAME                TUNNEL  SESSION\n"
            "dev-7               up      s-1\n"
            "a-much-longer-name  down\n"
            "x\n");
}

TEST(TableTest, WidthCountsCodePoints) {
  Table t({"A", "B"});
  t.AddRow({"\xc3\xa9t\xc3\xa9", "1"});  // "été": 3 columns, 5 bytes
  t.AddRow({"abcd", "2"});
  EXPECT_EQ(t.Render(), "A     B\n\xc3\xa9t\xc3\xa9   1\nabcd  2\n");
}

TEST(TableTest, HostileCellsCannotEscapeTheirCell) {
  Table t({"NAME"});
  t.AddRow({"evil\x1b[2J\r\nFAKE ROW\x07"});
  EXPECT_EQ(t.Render(), "NAME\nevil?[2J??FAKE ROW?\n");
}

TEST(PrintableTest, Cases) {
  const std::pair<std::string, std::string> cases[] = {
      {"plain", "plain"},
      {"tab\there", "tab?here"},
      {"\x1b]0;title\x07", "?]0;title?"},
      {"\xc2\x9b"
       "31m",
       "?31m"},                      // C1 CSI
      {"\xff\xfe", "??"},            // not UTF-8
      {"\xe0\x80\xaf", "???"},       // overlong
      {"\xed\xa0\x80", "???"},       // surrogate
      {"\xf4\x90\x80\x80", "????"},  // above U+10FFFF
      {"caf\xc3\xa9 \xf0\x9f\x9a\xa2", "caf\xc3\xa9 \xf0\x9f\x9a\xa2"},
      {"trunc\xe2\x82", "trunc??"},
      {std::string("nul\0x", 5), "nul?x"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(Printable(in), want) << in;
  EXPECT_EQ(Printable("a\nb\tc\rd", true), "a\nb\tc?d");
}

TEST(RelativeTimeTest, Cases) {
  SystemTime now = T("2026-12-04T10:00:00Z");
  EXPECT_EQ(RelativeTime(T("2026-12-04T10:59:00Z"), now), "in 59m");
  EXPECT_EQ(RelativeTime(T("2026-12-04T09:57:00Z"), now), "3m ago");
  EXPECT_EQ(RelativeTime(now, now), "now");
  EXPECT_EQ(RelativeTime(T("2026-12-05T12:05:00Z"), now), "in 1d2h");
  EXPECT_EQ(RelativeTime(T("2026-12-05T10:00:30Z"), now), "in 1d");
  EXPECT_EQ(RelativeTime(T("2026-12-04T07:55:00Z"), now), "2h5m ago");
  EXPECT_EQ(RelativeTime(T("2026-12-04T10:00:42Z"), now), "in 42s");
  EXPECT_EQ(ShowTime(std::nullopt, now), "-");
  EXPECT_EQ(ShowTime("garbage\x1b", now), "garbage?");
  EXPECT_EQ(ShowTime("2026-12-04T11:00:00Z", now), "in 1h");
}

TEST(KeyValueLinesTest, Aligns) {
  EXPECT_EQ(KeyValueLines({{"id", "1"}, {"device", "dev\x1b-7"}}),
            "id:     1\ndevice: dev?-7\n");
}

}  // namespace
}  // namespace porthole::cli
