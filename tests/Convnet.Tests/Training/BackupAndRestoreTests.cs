using Convnet.Data;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Convnet.Training;
using Xunit;

namespace Convnet.Tests.Training;

/// <summary>
/// Runs interrupted at random batches and epochs (cancellation, an exception before the epoch's
/// backup, an exception after it) and resumed from their backup, in fresh models as a new process
/// would, give the uninterrupted run's weights bit for bit; backups of another run, truncated or
/// corrupted ones are refused with a message naming the file.
/// </summary>
public class BackupAndRestoreTests
{
    private const int Epochs = 4;
    private const int BatchSize = 32;
    private static readonly Dataset Data = SyntheticDigits.Create(200, seed: 11);

    /// <summary>What a run is made of; each call builds it afresh, as a new process would.</summary>
    private sealed record Recipe(string Name, Func<Sequential> Model, Func<Optimizer> Optimizer, Func<string, List<Callback>> Callbacks, Augmentation Augmentation);

    private static Sequential Plain()
    {
        var model = new Sequential(Shape.Image(28, 28, 1), seed: 5, threads: 1);
        model.Add(new Conv2D(4, 3)).Add(new ReLU()).Add(new MaxPooling2D(2)).Add(new Flatten()).Add(new Dense(10)).Add(new Softmax());
        return model;
    }

    private static Sequential Regularised()
    {
        var model = new Sequential(Shape.Image(28, 28, 1), seed: 6, threads: 2);
        model.Add(new Conv2D(4, 3)).Add(new ReLU()).Add(new BatchNormalization()).Add(new MaxPooling2D(2))
             .Add(new Dropout(0.3f)).Add(new Flatten()).Add(new Dense(16)).Add(new ReLU()).Add(new Dropout(0.2f))
             .Add(new Dense(10)).Add(new Softmax());
        return model;
    }

    private static readonly Recipe PlainAdam = new("plain", Plain, () => new Adam(2e-3f), _ => [], Augmentation.None);

    // Everything that keeps state across epochs: BN statistics, dropout's step key, augmentation, the
    // moving average, a per-epoch schedule and ReduceLROnPlateau (patience 1: it fires in 4 epochs).
    private static readonly Recipe Strong = new("strong", Regularised, () => new Adam(3e-3f, emaMomentum: 0.99f),
        _ => [new LearningRateScheduler((epoch, rate) => epoch == 0 ? rate : rate * 0.7f), new ReduceLROnPlateau("val_loss", factor: 0.5f, patience: 1, minDelta: 0.5)],
        Augmentation.Parse("rotation=10,zoom=0.1,shift=0.1"));

    // Momentum buffers, a per-step schedule, and callbacks that keep their best weights and best value.
    private static readonly Recipe Sgd = new("sgd", Regularised, () => new Sgd(0.05f, momentum: 0.9f, emaMomentum: 0.9f) { Schedule = new OneCycle(0.05f, 24) },
        dir => [new EarlyStopping("val_accuracy", patience: 2, restoreBestWeights: true), new ModelCheckpoint(Path.Combine(dir, "best.safetensors"), "val_accuracy", saveBestOnly: true)],
        Augmentation.Parse("rotation=5"));

    // minDelta 100: no epoch after the first counts as better, so the rate is halved after epoch 3
    // whatever the losses, and only a restored best and wait count do it at the same epoch.
    private static readonly Recipe RmsProp = new("rmsprop", Regularised, () => new RmsProp(1e-3f, momentum: 0.5f, clipNorm: 1f),
        _ => [new ReduceLROnPlateau("loss", factor: 0.5f, patience: 2, minDelta: 100)], Augmentation.None);

    // The same trick: epoch 1 stays the best, so the run ends with its weights (kept in the backup) and its checkpoint.
    private static readonly Recipe AdamW = new("adamw", Plain, () => new AdamW(2e-3f),
        dir => [new EarlyStopping("val_loss", patience: Epochs, minDelta: 100, restoreBestWeights: true), new ModelCheckpoint(Path.Combine(dir, "first.safetensors"), "loss", saveBestOnly: true)], Augmentation.None);

    public static TheoryData<string, int> Cases()
    {
        var cases = new TheoryData<string, int>();
        foreach (string recipe in new[] { "plain", "strong", "sgd", "rmsprop", "adamw" })
        {
            foreach (int trial in new[] { 1, 2, 3 })
            {
                cases.Add(recipe, trial);
            }
        }
        return cases;
    }

    private static readonly Recipe[] Recipes = [PlainAdam, Strong, Sgd, RmsProp, AdamW];

    /// <summary>How a run is cut short.</summary>
    private enum Cut
    {
        /// <summary>The cancellation token, seen before a batch (Ctrl-C).</summary>
        Cancel,

        /// <summary>An exception in the middle of the epoch (a crash during a step).</summary>
        ThrowInBatch,

        /// <summary>An exception after the epoch, before its backup is written.</summary>
        ThrowBeforeBackup,

        /// <summary>An exception right after the backup, before the next epoch (a crash between epochs).</summary>
        ThrowAfterBackup,
    }

    /// <summary>
    /// Cuts the run: cancels <see cref="Cancel"/> or throws after training step <see cref="Batch"/>
    /// (counted over the run), throws at the end of epoch <see cref="EndOfEpoch"/> (it runs before
    /// BackupAndRestore) or at the beginning of epoch <see cref="BeginOfEpoch"/>.
    /// </summary>
    private sealed class Crash : Callback
    {
        private int _batches;

        public int EndOfEpoch { get; init; } = -1;
        public int BeginOfEpoch { get; init; } = -1;
        public int Batch { get; init; } = -1;
        public CancellationTokenSource? Cancel { get; init; }

        public override void OnBatchEnd(in BatchLog log)
        {
            if (++_batches == Batch)
            {
                if (Cancel is null)
                {
                    throw new IOException("simulated crash");
                }
                Cancel.Cancel();
            }
        }

        public override void OnEpochBegin(int epoch)
        {
            if (epoch == BeginOfEpoch)
            {
                throw new IOException("simulated crash");
            }
        }

        public override void OnEpochEnd(EpochLog log)
        {
            if (log.Epoch == EndOfEpoch)
            {
                throw new IOException("simulated crash");
            }
        }
    }

    /// <summary>Fits <paramref name="recipe"/> once; with a cut, stops it there. Returns the model (caller disposes) and the history, or null when cut.</summary>
    private static (Sequential Model, History? History, BackupAndRestore Backup) RunOnce(Recipe recipe, string directory, Cut? cut = null, int at = 0, IReadOnlyDictionary<string, string>? run = null)
    {
        var model = recipe.Model();
        model.Compile(recipe.Optimizer());
        using var cancel = new CancellationTokenSource();
        var crash = new Crash
        {
            EndOfEpoch = cut == Cut.ThrowBeforeBackup ? at : -1,
            BeginOfEpoch = cut == Cut.ThrowAfterBackup ? at + 1 : -1,
            Batch = cut is Cut.Cancel or Cut.ThrowInBatch ? at : -1,
            Cancel = cut == Cut.Cancel ? cancel : null,
        };
        var backup = new BackupAndRestore(directory, run ?? new Dictionary<string, string> { ["epochs"] = $"{Epochs}", ["seed"] = "3" });
        var callbacks = recipe.Callbacks(Path.GetDirectoryName(Path.GetFullPath(directory))!);
        callbacks.Add(crash);
        callbacks.Add(backup);
        try
        {
            var history = model.Fit(Data, Epochs, BatchSize, validationSplit: 0.1, seed: 3, augmentation: recipe.Augmentation, callbacks: callbacks, cancellationToken: cancel.Token);
            return (model, history, backup);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            Assert.NotNull(cut);
            return (model, null, backup);
        }
    }

    /// <returns>The final weights, the history and the checkpoint files the callbacks wrote, by name.</returns>
    private static (float[] Weights, History History, Dictionary<string, byte[]> Checkpoints) Uninterrupted(Recipe recipe)
    {
        using var dir = new TempDir();
        using var model = recipe.Model();
        model.Compile(recipe.Optimizer());
        var history = model.Fit(Data, Epochs, BatchSize, validationSplit: 0.1, seed: 3, augmentation: recipe.Augmentation, callbacks: recipe.Callbacks(dir.Path));
        return (model.GetWeights(), history, Checkpoints(dir.Path));
    }

    private static Dictionary<string, byte[]> Checkpoints(string directory) =>
        Directory.EnumerateFiles(directory, "*.safetensors").ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_run_cut_at_random_moments_and_resumed_gives_the_uninterrupted_weights_bit_for_bit(string name, int trial)
    {
        int index = Array.FindIndex(Recipes, r => r.Name == name);
        var recipe = Recipes[index];
        var (expected, expectedHistory, expectedCheckpoints) = Uninterrupted(recipe);
        // 6 batches per epoch (180 training images in batches of 32); one to three cuts at random moments.
        var rng = new Rng((ulong)(100 * index + trial));
        using var dir = new TempDir();
        string backupDir = Path.Combine(dir.Path, "backup");
        int cuts = 1 + rng.NextInt(3);
        var restoredAt = new List<int>();
        for (int i = 0; i < cuts; i++)
        {
            var cut = (Cut)rng.NextInt(4);
            int at = cut is Cut.Cancel or Cut.ThrowInBatch ? 1 + rng.NextInt(6 * Epochs) : 1 + rng.NextInt(Epochs - 1);
            var (model, history, backup) = RunOnce(recipe, backupDir, cut, at);
            using (model)
            {
                restoredAt.Add(backup.RestoredEpochs);
                if (history is not null)
                {
                    // A cut later than the run (it resumed past it, or stopped early) let it finish.
                    Assert.Equal(expected, model.GetWeights());
                    Assert.Equal(expectedHistory.Epochs.Select(WithoutTime), history.Epochs.Select(WithoutTime));
                    return;
                }
            }
        }
        var (final, finalHistory, finalBackup) = RunOnce(recipe, backupDir);
        using (final)
        {
            Assert.Equal(expected, final.GetWeights());
            Assert.Equal(expectedHistory.Epochs.Select(WithoutTime), finalHistory!.Epochs.Select(WithoutTime));
            Assert.False(File.Exists(finalBackup.FilePath), "the backup is deleted after a successful end");
            Assert.False(Directory.Exists(backupDir), "the emptied backup folder is removed");
            var checkpoints = Checkpoints(dir.Path);
            Assert.Equal(expectedCheckpoints.Keys, checkpoints.Keys);
            Assert.All(expectedCheckpoints, e => Assert.Equal(e.Value, checkpoints[e.Key]));
        }
        // Backups are only ever at epoch boundaries, and never go backwards.
        Assert.Equal(restoredAt.Order(), restoredAt);
    }

    private static EpochLog WithoutTime(EpochLog log) => log with { Seconds = 0 };

    [Fact]
    public void Resuming_restores_every_piece_of_state_that_the_next_epoch_reads()
    {
        using var dir = new TempDir();
        var (cut, _, _) = RunOnce(Strong, Path.Combine(dir.Path, "backup"), Cut.ThrowBeforeBackup, at: 3);
        cut.Dispose();
        var model = Strong.Model();
        model.Compile(Strong.Optimizer());
        var backup = new BackupAndRestore(Path.Combine(dir.Path, "backup"), new Dictionary<string, string> { ["epochs"] = $"{Epochs}", ["seed"] = "3" });
        var callbacks = Strong.Callbacks(dir.Path);
        callbacks.Add(new Crash { BeginOfEpoch = 3 });
        callbacks.Add(backup);
        int restored = -1;
        using (model)
        {
            Assert.Throws<IOException>(() => model.Fit(Data, Epochs, BatchSize, validationSplit: 0.1, seed: 3, augmentation: Strong.Augmentation, callbacks: callbacks));
            Assert.Equal(2, backup.RestoredEpochs);
            restored = backup.RestoredEpochs;
            Assert.Equal(2L * 6, model.TrainingSteps);
            Assert.Equal(2L * 6, model.Optimizer!.Iterations);
        }
        Assert.Equal(2, restored);
    }

    [Fact]
    public void A_backup_of_another_run_is_refused_naming_what_differs_and_changes_nothing()
    {
        using var dir = new TempDir();
        var (cut, _, _) = RunOnce(PlainAdam, dir.Path, Cut.ThrowAfterBackup, at: 1);
        cut.Dispose();

        using var other = PlainAdam.Model();
        other.Compile(PlainAdam.Optimizer());
        float[] before = other.GetWeights();
        var backup = new BackupAndRestore(dir.Path, new Dictionary<string, string> { ["epochs"] = $"{Epochs}", ["seed"] = "4" });
        var e = Assert.Throws<ModelFormatException>(() => other.Fit(Data, Epochs, BatchSize, seed: 4, callbacks: [new Crash(), backup]));
        Assert.Contains(Path.Combine(dir.Path, BackupAndRestore.FileName), e.Message, StringComparison.Ordinal);
        Assert.Contains("seed is 3 there, 4 here", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, other.GetWeights());
        Assert.Equal(0, other.Optimizer!.Iterations);

        // Another architecture, another optimizer setting.
        using var wider = new Sequential(Shape.Image(28, 28, 1), seed: 5, threads: 1);
        wider.Add(new Conv2D(8, 3)).Add(new ReLU()).Add(new MaxPooling2D(2)).Add(new Flatten()).Add(new Dense(10)).Add(new Softmax());
        wider.Compile(new Adam(2e-3f));
        var refused = Assert.Throws<ModelFormatException>(() => wider.Fit(Data, Epochs, BatchSize, seed: 3,
            callbacks: [new Crash(), new BackupAndRestore(dir.Path, new Dictionary<string, string> { ["epochs"] = $"{Epochs}", ["seed"] = "3" })]));
        Assert.Contains("the model.architecture differs", refused.Message, StringComparison.Ordinal);
        using var slower = PlainAdam.Model();
        slower.Compile(new Adam(1e-3f));
        refused = Assert.Throws<ModelFormatException>(() => slower.Fit(Data, Epochs, BatchSize, seed: 3,
            callbacks: [new Crash(), new BackupAndRestore(dir.Path, new Dictionary<string, string> { ["epochs"] = $"{Epochs}", ["seed"] = "3" })]));
        Assert.Contains("model.optimizer.learning_rate is 0.002 there, 0.001 here", refused.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir.Path, BackupAndRestore.FileName)), "a refused backup is left for the run it belongs to");
    }

    public static TheoryData<string> Damages() => ["truncated", "tensor byte", "metadata digit", "empty", "garbage"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void A_damaged_backup_is_refused_with_a_message_naming_the_file(string damage)
    {
        using var dir = new TempDir();
        var (cut, _, backupUsed) = RunOnce(PlainAdam, dir.Path, Cut.ThrowAfterBackup, at: 2);
        cut.Dispose();
        string path = backupUsed.FilePath;
        byte[] bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "truncated":
                bytes = bytes[..(bytes.Length * 2 / 3)];
                break;
            case "tensor byte":
                bytes[^5] ^= 0x10;
                break;
            case "metadata digit":
                // "epochs_done":"2" → "3": still valid JSON, caught by the metadata's own checksum.
                string text = System.Text.Encoding.Latin1.GetString(bytes);
                int at = text.IndexOf("\"epochs_done\":\"2\"", StringComparison.Ordinal);
                Assert.True(at > 0);
                bytes[at + "\"epochs_done\":\"".Length] = (byte)'3';
                break;
            case "empty":
                bytes = [];
                break;
            default:
                bytes = System.Text.Encoding.UTF8.GetBytes("not a backup at all, just text that is long enough");
                break;
        }
        File.WriteAllBytes(path, bytes);
        using var model = PlainAdam.Model();
        model.Compile(PlainAdam.Optimizer());
        float[] before = model.GetWeights();
        var e = Assert.Throws<ModelFormatException>(() => model.Fit(Data, Epochs, BatchSize, validationSplit: 0.1, seed: 3,
            callbacks: [new Crash(), new BackupAndRestore(dir.Path, new Dictionary<string, string> { ["epochs"] = $"{Epochs}", ["seed"] = "3" })]));
        Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, model.GetWeights());
    }

    [Fact]
    public void A_stale_temporary_file_from_a_cut_write_is_removed_and_the_last_backup_used()
    {
        using var dir = new TempDir();
        var (cut, _, backup) = RunOnce(PlainAdam, dir.Path, Cut.ThrowAfterBackup, at: 1);
        cut.Dispose();
        // What a kill during the next write leaves: a part of the new file beside the complete old one.
        byte[] complete = File.ReadAllBytes(backup.FilePath);
        string stale = backup.FilePath + ".tmp-0badf00d";
        File.WriteAllBytes(stale, complete[..(complete.Length / 2)]);
        var (resumed, history, again) = RunOnce(PlainAdam, dir.Path);
        using (resumed)
        {
            Assert.Equal(1, again.RestoredEpochs);
            Assert.NotNull(history);
            Assert.False(File.Exists(stale));
            Assert.Equal(Uninterrupted(PlainAdam).Weights, resumed.GetWeights());
        }
    }

    [Fact]
    public void BackupAndRestore_must_be_the_last_callback()
    {
        using var dir = new TempDir();
        using var model = PlainAdam.Model();
        model.Compile(PlainAdam.Optimizer());
        var e = Assert.Throws<InvalidOperationException>(() => model.Fit(Data, 1, BatchSize, callbacks: [new BackupAndRestore(dir.Path), new Crash()]));
        Assert.Contains("last callback", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Optimizer_slots_round_trip_through_GetSlot_and_RestoreState()
    {
        var store = new ParameterStore();
        var a = store.Add("a", 3);
        var b = store.Add("b", 2);
        var first = new Adam(0.1f, emaMomentum: 0.5f);
        for (int step = 0; step < 3; step++)
        {
            for (int i = 0; i < 3; i++)
            {
                a.Gradient[i] = i - step;
            }
            b.Gradient.Fill(step + 1);
            first.Step(store.Parameters);
        }
        var slots = first.SlotNames.ToDictionary(s => s, s => first.GetSlot(s, store.Parameters));
        Assert.Equal(["average", "momentum", "velocity"], slots.Keys.Order(StringComparer.Ordinal));
        Assert.All(slots.Values, v => Assert.Equal(5, v.Length));
        Assert.Contains(slots["velocity"], v => v > 0);

        var second = new Adam(0.1f, emaMomentum: 0.5f);
        second.RestoreState(first.Iterations, first.LearningRate, store.Parameters, slots);
        Assert.Equal(3, second.Iterations);
        foreach (string slot in first.SlotNames)
        {
            Assert.Equal(first.GetSlot(slot, store.Parameters), second.GetSlot(slot, store.Parameters));
        }
        var missing = new Dictionary<string, float[]>(slots);
        missing.Remove("velocity");
        Assert.Throws<ArgumentException>(() => new Adam(0.1f, emaMomentum: 0.5f).RestoreState(3, 0.1f, store.Parameters, missing));
        var wrong = new Dictionary<string, float[]>(slots) { ["momentum"] = new float[4] };
        Assert.Throws<ArgumentException>(() => new Adam(0.1f, emaMomentum: 0.5f).RestoreState(3, 0.1f, store.Parameters, wrong));
    }
}
