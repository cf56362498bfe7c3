// The shared base of every Exosphere part: errors, files, ids, JSON, logging, processes, text, time.
#pragma once

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
