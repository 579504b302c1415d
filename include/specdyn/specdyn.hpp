// Everything a user program needs, in one include: the declaration language and rules, binding a
// declaration to a model, the trainer, synthetic tasks and loaders, spectra, the theory and the
// run orchestration (train / theory / compare) that the command line uses.
//   #include <specdyn/specdyn.hpp>
#pragma once

#include "specdyn/dsl.hpp"
#include "specdyn/data/tasks.hpp"
#include "specdyn/train/model.hpp"
#include "specdyn/train/trainer.hpp"
#include "specdyn/run/compare.hpp"
#include "specdyn/run/experiment.hpp"
#include "specdyn/run/theory.hpp"
#include "specdyn/dmft/printer.hpp"
