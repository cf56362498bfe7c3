#include <gtest/gtest.h>

#include "deploy/hcl_writer.hpp"

using namespace exo::deploy;

TEST(HclWriter, AlignsConsecutiveAttributesAndNotAcrossBreaks) {
  HclWriter w;
  w.open("module \"web\"");
  w.attribute("source", "\"./x\"");
  w.attribute("name", "\"a\"");
  w.open_object("environment");
  w.attribute("A", "\"b\"");
  w.attribute("LONGER", "\"c\"");
  w.close_object();
  w.attribute("cpu", "1");
  w.comment("why");
  w.attribute("memory_size", "2");
  w.attribute("y", "3");
  w.close();
  EXPECT_EQ(w.str(),
            "module \"web\" {\n"
            "  source = \"./x\"\n"
            "  name   = \"a\"\n"
            "  environment = {\n"
            "    A      = \"b\"\n"
            "    LONGER = \"c\"\n"
            "  }\n"
            "  cpu = 1\n"
            "  # why\n"
            "  memory_size = 2\n"
            "  y           = 3\n"
            "}\n");
}

TEST(HclWriter, HeredocsKeepTheirTextLiteral) {
  HclWriter w;
  w.open("module \"m\"");
  w.heredoc("data", "{\n  \"a\": \"${x} and %{y}\"\n}");
  w.close();
  EXPECT_EQ(w.str(), "module \"m\" {\n  data = <<-EOT\n    {\n      \"a\": \"$${x} and %%{y}\"\n    }\n  EOT\n}\n");
}

TEST(HclString, EscapesQuotesBackslashesControlsAndTemplates) {
  EXPECT_EQ(hcl_string("plain"), "\"plain\"");
  EXPECT_EQ(hcl_string("say \"hi\"\\n"), "\"say \\\"hi\\\"\\\\n\"");
  EXPECT_EQ(hcl_string("a\nb\tc"), "\"a\\nb\\tc\"");
  EXPECT_EQ(hcl_string("${HOME} %{if} $5 %d"), "\"$${HOME} %%{if} $5 %d\"");
  EXPECT_EQ(hcl_string(std::string("\x01", 1)), "\"\\u0001\"");
}

TEST(HclKey, QuotesWhatIsNotAnIdentifier) {
  EXPECT_EQ(hcl_key("ROLE"), "ROLE");
  EXPECT_EQ(hcl_key("customer-dashboard"), "customer-dashboard");
  EXPECT_EQ(hcl_key("9LIVES"), "\"9LIVES\"");
  EXPECT_EQ(hcl_key("a.b"), "\"a.b\"");
}
