#pragma once

#include "kernels/kernels.h"

namespace sepconv {
namespace detail {

// The kernel table of the active ISA (chosen at first use, see sepconv.h).
const kernels::KernelTable& active_kernels();

}  // namespace detail
}  // namespace sepconv
