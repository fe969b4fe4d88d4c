// SPDX-License-Identifier: MIT
// The few range concepts aio's range overloads need (gather, wait, as_completed), spelled as
// the standard spells them in <ranges>, but on top of <iterator> alone: <ranges> costs more to
// compile than all of aio, and the range access objects (std::ranges::begin, end, size) are
// available from <iterator> too.
#ifndef AIO_DETAIL_RANGES_HPP_INCLUDED
#define AIO_DETAIL_RANGES_HPP_INCLUDED

#include <iterator>
#include <utility>

namespace aio::detail {

template <class R>
using iterator_t = decltype(std::ranges::begin(std::declval<R&>()));

template <class R>
concept range = requires(R& r) {
    std::ranges::begin(r);
    std::ranges::end(r);
};
template <class R>
concept input_range = range<R> && std::input_iterator<iterator_t<R>>;
template <class R>
concept forward_range = input_range<R> && std::forward_iterator<iterator_t<R>>;
template <class R>
concept random_access_range = forward_range<R> && std::random_access_iterator<iterator_t<R>>;
template <class R>
concept sized_range = range<R> && requires(R& r) {
    std::ranges::size(r);
};

template <class R>
using range_value_t = std::iter_value_t<iterator_t<R>>;
template <class R>
using range_reference_t = std::iter_reference_t<iterator_t<R>>;

}  // namespace aio::detail

#endif
