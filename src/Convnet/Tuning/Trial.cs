using Convnet.Runtime;

namespace Convnet.Tuning;

/// <summary>
/// One point of a search: its number (from 0, in the order the strategy made the points) and one value
/// per <see cref="SearchSpace.Parameters"/> entry.
/// </summary>
/// <param name="Index">The trial's number; with the search seed, it alone decides the trial's seed.</param>
/// <param name="Point">The parameters' values, in the space's order.</param>
public sealed record Trial(int Index, IReadOnlyList<string> Point)
{
    /// <summary>
    /// The seed trial <paramref name="index"/> trains with (weights, shuffling, dropout, augmentation): a
    /// function of the search seed and the index only, so a trial's result does not depend on which
    /// trials ran before it, beside it or how many threads it had.
    /// </summary>
    public static ulong SeedOf(ulong searchSeed, int index) => Rng.Derive(searchSeed, 0x7E1A1_0000UL + (ulong)index).NextUInt64() >> 33;
}

/// <summary>One round of a search: trials that each train for the same budget.</summary>
/// <param name="Index">The round's number from 0 (successive halving's rung; 0 for grid and random search).</param>
/// <param name="Epochs">The epochs each trial of the rung trains for, or null for the trial's own (its settings' epochs).</param>
/// <param name="Trials">The trials, in index order.</param>
public sealed record Rung(int Index, int? Epochs, IReadOnlyList<Trial> Trials);
