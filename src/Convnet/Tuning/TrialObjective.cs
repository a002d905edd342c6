using System.Globalization;
using System.Security.Cryptography;
using Convnet.Architecture;
using Convnet.Data;
using Convnet.Models;
using Convnet.Training;

namespace Convnet.Tuning;

/// <summary>
/// What a trial is scored on: stratified K-fold cross-validation of the training data
/// (<see cref="StratifiedKFold"/>), or one stratified validation split, the same folds or split for
/// every trial (made from the search seed). A trial's model of one fold trains through
/// <see cref="Trainer"/> exactly as <c>convnet train</c> would with its settings, and is scored on the
/// held-out samples. The test data has no part in it.
/// </summary>
public sealed class TrialObjective
{
    private readonly (Dataset Train, Dataset Validation)[] _splits;

    /// <param name="data">The labelled training data.</param>
    /// <param name="folds">K ≥ 2 for K-fold cross-validation; 0 or 1 for one split of <paramref name="validationSplit"/>.</param>
    /// <param name="validationSplit">Without folds: the fraction of each class held out, in (0, 1).</param>
    /// <param name="seed">Seeds the folds or the split.</param>
    /// <exception cref="ArgumentException">No folds and no validation fraction, or too few samples.</exception>
    public TrialObjective(Dataset data, int folds, double validationSplit, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(folds);
        Data = data;
        Folds = folds;
        ValidationSplit = validationSplit;
        if (folds >= 2)
        {
            var kfold = new StratifiedKFold(data, folds, seed);
            _splits = [.. Enumerable.Range(0, folds).Select(k => kfold.Split(data, k))];
        }
        else
        {
            if (!(validationSplit > 0 && validationSplit < 1))
            {
                throw new ArgumentException($"A search needs validation data: folds of 2 or more, or a validation fraction in (0, 1), got {validationSplit.ToString(CultureInfo.InvariantCulture)}.", nameof(validationSplit));
            }
            _splits = [data.SplitStratified(validationSplit, seed)];
        }
        Classes = Trainer.Classes(data);
    }

    /// <summary>All the training data (the refit trains on it).</summary>
    public Dataset Data { get; }

    /// <summary>K, or 0 for one validation split.</summary>
    public int Folds { get; }

    /// <summary>The held-out fraction without folds.</summary>
    public double ValidationSplit { get; }

    /// <summary>The classes a model scores.</summary>
    public int Classes { get; }

    /// <summary>Models a trial trains: K, or 1.</summary>
    public int Splits => _splits.Length;

    /// <summary>Split <paramref name="index"/>'s training and validation data.</summary>
    public (Dataset Train, Dataset Validation) Split(int index) => _splits[index];

    /// <summary>How trials are scored, as a search directory records it.</summary>
    public string Describe() => Folds >= 2
        ? string.Create(CultureInfo.InvariantCulture, $"stratified {Folds}-fold cross-validation")
        : string.Create(CultureInfo.InvariantCulture, $"validation split {ValidationSplit}");

    /// <summary>The SHA-256 of the data's pixels, labels and class names: a search directory's data.</summary>
    public string DataFingerprint()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Data.Pixels);
        sha.AppendData(Data.Labels ?? []);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Data.SampleShape}|{string.Join('\u001f', Data.ClassNames ?? [])}")));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Trains a model of <paramref name="settings"/> on split <paramref name="split"/>'s training data with
    /// <paramref name="seed"/> and <paramref name="threads"/> threads, and scores the weights it ends with
    /// on the split's validation data.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss or weights stopped being finite.</exception>
    /// <exception cref="ArchitectureSpecException">The architecture does not fit the data.</exception>
    public FoldResult Evaluate(TrainingSettings settings, int split, ulong seed, int threads, IEnumerable<Callback>? callbacks = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var (train, validation) = _splits[split];
        var trainer = new Trainer(settings with { Seed = seed, Threads = threads, CheckpointPath = null, BackupDirectory = null });
        using var run = trainer.Start(train, validation, Classes, seed, threads);
        var history = run.Fit(callbacks, cancellationToken);
        var last = history.Epochs[^1];
        // The weights the run ends with: the moving average with ema (Fit scored them), the best epoch's after early stopping.
        var (loss, accuracy) = run.AveragedValidation
            ?? (settings.EarlyStopping is not null ? run.Model.Evaluate(validation) : (last.ValidationLoss, last.ValidationAccuracy));
        return new FoldResult(accuracy, loss, history.Epochs.Count, run.Seconds, history.Epochs);
    }
}
