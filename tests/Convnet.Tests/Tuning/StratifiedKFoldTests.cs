using Convnet.Data;
using Convnet.Tensors;
using FsCheck;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Tuning;

/// <summary>K-fold splits: disjoint, covering, and stratified.</summary>
public class StratifiedKFoldTests
{
    private static Dataset Labelled(byte[] labels) => new(new byte[labels.Length], labels, Shape.Vector(1));

    [Property(MaxTest = 60)]
    public void Folds_are_disjoint_cover_the_data_and_hold_each_class_in_proportion(PositiveInt seed)
    {
        var rng = new Convnet.Runtime.Rng((ulong)seed.Get);
        int k = 2 + rng.NextInt(6);
        int count = k + rng.NextInt(300);
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)rng.NextInt(1 + rng.NextInt(7));
        }
        var data = Labelled(labels);
        var folds = new StratifiedKFold(data, k, (ulong)seed.Get);
        var seen = new int[count];
        for (int f = 0; f < k; f++)
        {
            var (train, validation) = folds.Indices(f);
            Assert.Equal(count, train.Length + validation.Length);
            Assert.Empty(train.Intersect(validation));
            Assert.True(validation.Order().SequenceEqual(validation), "in the data's order");
            foreach (int i in validation)
            {
                seen[i]++;
            }
            // Each class: its fold share is within one of count/k.
            foreach (var group in labels.Select((l, i) => (l, i)).GroupBy(x => x.l))
            {
                int inFold = group.Count(x => folds.FoldOf(x.i) == f);
                Assert.InRange(inFold, group.Count() / k, (group.Count() + k - 1) / k);
            }
        }
        Assert.All(seen, s => Assert.Equal(1, s));
        // Fold sizes differ by at most one.
        var sizes = Enumerable.Range(0, k).Select(f => folds.Indices(f).Validation.Length).ToArray();
        Assert.True(sizes.Max() - sizes.Min() <= 1, string.Join(",", sizes));
    }

    [Fact]
    public void The_same_seed_gives_the_same_folds_and_another_seed_others()
    {
        var data = Labelled([.. Enumerable.Range(0, 200).Select(i => (byte)(i % 4))]);
        var a = new StratifiedKFold(data, 5, 1);
        var b = new StratifiedKFold(data, 5, 1);
        var c = new StratifiedKFold(data, 5, 2);
        Assert.Equal(Enumerable.Range(0, 200).Select(a.FoldOf), Enumerable.Range(0, 200).Select(b.FoldOf));
        Assert.NotEqual(Enumerable.Range(0, 200).Select(a.FoldOf), Enumerable.Range(0, 200).Select(c.FoldOf));
        var (train, validation) = a.Split(data, 3);
        Assert.Equal((160, 40), (train.Count, validation.Count));
    }

    [Fact]
    public void Fewer_samples_than_folds_are_refused()
    {
        Assert.Throws<InvalidOperationException>(() => new StratifiedKFold(Labelled([0, 1]), 3, 1));
    }
}
