using Convnet.Tuning;
using Xunit;

namespace Convnet.Tests.Tuning;

/// <summary>Successive halving's budget schedule and who goes on.</summary>
public class SuccessiveHalvingTests
{
    [Theory]
    // trials, max epochs, η, min epochs → (trials, epochs) per rung, computed by hand: s = the most halvings
    // with η^s ≤ trials and max/η^s ≥ min; rung i trains ⌊trials/η^i⌋ for round(max/η^(s−i)) epochs.
    [InlineData(12, 10, 3, 1, new[] { 12, 1, 4, 3, 1, 10 })]
    [InlineData(27, 27, 3, 1, new[] { 27, 1, 9, 3, 3, 9, 1, 27 })]
    [InlineData(8, 8, 2, 1, new[] { 8, 1, 4, 2, 2, 4, 1, 8 })]
    [InlineData(9, 10, 3, 2, new[] { 9, 3, 3, 10 })]           // 10/9 < 2 epochs: one halving only
    [InlineData(2, 10, 3, 1, new[] { 2, 10 })]                 // too few trials to halve
    [InlineData(20, 2, 3, 1, new[] { 20, 2 })]                 // too few epochs to halve
    public void The_budget_schedule_is_the_hand_computed_one(int trials, int maxEpochs, int factor, int minEpochs, int[] expected)
    {
        var halving = new SuccessiveHalving(trials, maxEpochs, factor, minEpochs);
        Assert.Equal(expected, halving.Schedule.SelectMany(r => new[] { r.Trials, r.Epochs }));
        Assert.Equal(maxEpochs, halving.Schedule[^1].Epochs);
    }

    [Fact]
    public void Each_rung_keeps_the_best_third_in_trial_order_with_more_epochs()
    {
        var space = SearchSpace.Parse("""{"lr": {"min": 0.0001, "max": 0.01, "log": true}}""");
        var halving = new SuccessiveHalving(12, 10);
        var first = halving.First(space, seed: 5);
        Assert.Equal(12, first.Trials.Count);
        Assert.Equal(1, first.Epochs);
        int[] ranking = [7, 2, 11, 0, 5, 1, 3, 4, 6, 8, 9, 10];
        var second = halving.Next(first, [.. ranking.Select(i => first.Trials[i])])!;
        Assert.Equal(3, second.Epochs);
        Assert.Equal([0, 2, 7, 11], second.Trials.Select(t => t.Index));
        var third = halving.Next(second, [second.Trials[2], second.Trials[0], second.Trials[1], second.Trials[3]])!;
        Assert.Equal(10, third.Epochs);
        Assert.Equal([7], third.Trials.Select(t => t.Index));
        Assert.Null(halving.Next(third, third.Trials));
    }
}
