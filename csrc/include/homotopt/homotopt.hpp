// Everything public in one include.
#pragma once

#include "homotopt/array.hpp"
#include "homotopt/asktell.hpp"
#include "homotopt/build_info.hpp"
#include "homotopt/error.hpp"
#include "homotopt/lse.hpp"
#include "homotopt/o2nc.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/random.hpp"
