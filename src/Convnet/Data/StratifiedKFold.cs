using System.Runtime.InteropServices;
using Convnet.Runtime;

namespace Convnet.Data;

/// <summary>
/// Stratified K-fold cross-validation splits (scikit-learn's <c>StratifiedKFold(shuffle=True)</c>):
/// each class's samples are shuffled by the seed and dealt to the folds in turn, so every fold holds
/// each class's samples in proportion (fold sizes differ by at most one per class) and the folds are
/// disjoint and cover the data.
/// </summary>
public sealed class StratifiedKFold
{
    private readonly int[] _foldOf;

    /// <summary>Assigns every sample of <paramref name="data"/> to one of <paramref name="folds"/> folds.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="folds"/> is below 2.</exception>
    /// <exception cref="InvalidOperationException">The data has no labels, or fewer samples than folds.</exception>
    public StratifiedKFold(Dataset data, int folds, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        if (data.Labels is not { } labels)
        {
            throw new InvalidOperationException("Stratified folds need labels.");
        }
        if (data.Count < folds)
        {
            throw new InvalidOperationException($"{data.Count} samples cannot make {folds} folds.");
        }
        Folds = folds;
        _foldOf = new int[data.Count];
        var rng = Rng.Derive(seed, 0xF01D5);
        var members = new List<int>();
        // Each class continues dealing where the previous one stopped, so the folds' sizes stay within one of each other.
        int next = 0;
        for (int cls = 0; cls < Dataset.MaxClasses; cls++)
        {
            members.Clear();
            for (int i = 0; i < labels.Length; i++)
            {
                if (labels[i] == cls)
                {
                    members.Add(i);
                }
            }
            var span = CollectionsMarshal.AsSpan(members);
            rng.Shuffle(span);
            foreach (int i in span)
            {
                _foldOf[i] = next;
                next = (next + 1) % folds;
            }
        }
    }

    /// <summary>The number of folds.</summary>
    public int Folds { get; }

    /// <summary>The fold sample <paramref name="index"/> belongs to.</summary>
    public int FoldOf(int index) => _foldOf[index];

    /// <summary>The samples of fold <paramref name="fold"/> (validation) and of all the others (training), each in the data's order.</summary>
    public (int[] Train, int[] Validation) Indices(int fold)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fold);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fold, Folds);
        var train = new List<int>();
        var validation = new List<int>();
        for (int i = 0; i < _foldOf.Length; i++)
        {
            (_foldOf[i] == fold ? validation : train).Add(i);
        }
        return (train.ToArray(), validation.ToArray());
    }

    /// <summary>Fold <paramref name="fold"/> as data sets: training on the other folds, validating on this one.</summary>
    public (Dataset Train, Dataset Validation) Split(Dataset data, int fold)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count != _foldOf.Length)
        {
            throw new ArgumentException($"The folds were made for {_foldOf.Length} samples, not {data.Count}.", nameof(data));
        }
        var (train, validation) = Indices(fold);
        return (data.Subset(train), data.Subset(validation));
    }
}
