using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Training;

/// <summary>
/// Keras's BackupAndRestore(backup_dir, save_freq="epoch", delete_checkpoint=True): at the end of
/// every epoch it writes the whole training state to <see cref="FilePath"/> in
/// <see cref="Directory"/>, and when Fit begins with a backup there it restores it and Fit goes
/// on from the next epoch. The state is everything a later epoch depends on: the weights and
/// non-trainable state (BatchNormalization's moving statistics), the optimizer's step count, rate
/// and slots (moments, momentum buffers, the moving average of the weights, hence a per-step
/// schedule's position), the model's training-step counter (Dropout's masks), the epochs done
/// and their history, whether a callback stopped training, and the state of every
/// <see cref="IStatefulCallback"/> of the Fit. Shuffling and augmentation are keyed by (seed,
/// epoch), so a resumed run gives the same weights, bit for bit, as an uninterrupted one.
/// <para>
/// The backup is one safetensors file written under a temporary name and renamed over the last
/// one, so a crash at any moment leaves the previous complete backup or the new one (and at most a
/// temporary file, which the next run removes). Its metadata records the run it belongs to (the
/// architecture, the model's seed, the optimizer, the loss, the callbacks, and the caller's
/// <c>run</c> settings such as epochs, batch size, seed and data): a backup of another run is
/// refused rather than mixed in. It must be the last callback of the Fit, so that it saves the
/// others' state after their epoch end and restores it after their train begin.
/// </para>
/// </summary>
public sealed class BackupAndRestore : Callback
{
    /// <summary>The backup's file name inside <see cref="Directory"/>.</summary>
    public const string FileName = "backup.safetensors";

    private const string Format = "convnet training backup";
    private const string FormatVersion = "1";
    private const string MetadataChecksumKey = "metadata_sha256";
    private const string RunPrefix = "run.";
    private const string CallbackPrefix = "callback";

    private readonly Dictionary<string, string> _run;
    private readonly List<EpochLog> _history = [];
    private Dictionary<string, string> _fingerprint = [];

    /// <param name="directory">Where the backup lives; created when the first backup is written.</param>
    /// <param name="run">
    /// What decides the run besides the model and its optimizer (which are added): Fit's epochs,
    /// batch size, seed, augmentation, the data (its size, a hash), ... A backup whose settings
    /// differ is refused.
    /// </param>
    /// <param name="deleteCheckpoint">
    /// Delete the backup when Fit ends (Keras's delete_checkpoint). A caller that saves the model
    /// after Fit passes false and calls <see cref="Delete"/> once the model is safely written.
    /// </param>
    public BackupAndRestore(string directory, IReadOnlyDictionary<string, string>? run = null, bool deleteCheckpoint = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = directory;
        DeleteCheckpoint = deleteCheckpoint;
        _run = new Dictionary<string, string>(run ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var (key, value) in _run)
        {
            if (string.IsNullOrEmpty(key) || value is null)
            {
                throw new ArgumentException($"Run setting '{key}' needs a name and a value.", nameof(run));
            }
        }
    }

    /// <summary>The folder of the backup, as given to the constructor.</summary>
    public string Directory { get; }
    /// <summary>Whether <see cref="OnTrainEnd"/> deletes the backup (Keras's delete_checkpoint).</summary>
    public bool DeleteCheckpoint { get; }
    /// <summary>The backup file: <see cref="FileName"/> in <see cref="Directory"/>.</summary>
    public string FilePath => Path.Combine(Directory, FileName);

    /// <summary>The epochs the restored backup had done, or 0 when Fit started afresh.</summary>
    public int RestoredEpochs { get; private set; }

    /// <summary>Called with the epochs done when a backup has been restored (before the first new epoch).</summary>
    public Action<int>? Restored { get; set; }

    /// <summary>Restores the backup at <see cref="FilePath"/>, if there is one, so Fit goes on after its epochs.</summary>
    /// <exception cref="InvalidOperationException">This is not the last callback of the Fit, or the model is not compiled.</exception>
    /// <exception cref="ModelFormatException">The backup is not a complete training backup of this version, is corrupt, or belongs to a different run.</exception>
    public override void OnTrainBegin()
    {
        var model = RequireModel();
        var callbacks = Callbacks(model);
        if (callbacks.Count == 0 || !ReferenceEquals(callbacks[^1], this))
        {
            throw new InvalidOperationException("BackupAndRestore must be the last callback of Fit, so that it saves the other callbacks' state after their epoch end.");
        }
        _history.Clear();
        RestoredEpochs = 0;
        _fingerprint = Fingerprint(model);
        RemoveTemporaryFiles();
        if (File.Exists(FilePath))
        {
            Restore(model);
            Restored?.Invoke(RestoredEpochs);
        }
    }

    /// <summary>Writes the backup, unless the epoch diverged (a non-finite loss or weights): then the last finite backup stays.</summary>
    /// <param name="log">The epoch's log, kept in the backup's history.</param>
    public override void OnEpochEnd(EpochLog log)
    {
        _history.Add(log);
        var model = RequireModel();
        // A diverged epoch (TerminateOnNaN stops after it) is not worth resuming from: the last
        // finite backup stays.
        if (double.IsFinite(log.Loss) && model.WeightsAreFinite())
        {
            Write(model, log.Epoch);
        }
    }

    /// <summary>Deletes the backup when <see cref="DeleteCheckpoint"/> is set. Not reached when Fit is interrupted or throws, so the backup stays for the next run.</summary>
    public override void OnTrainEnd()
    {
        if (DeleteCheckpoint)
        {
            Delete();
        }
    }

    /// <summary>Deletes the backup (and any temporary file beside it); the directory is removed when that leaves it empty.</summary>
    public void Delete()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return;
        }
        File.Delete(FilePath);
        RemoveTemporaryFiles();
        if (System.IO.Directory.Exists(Directory) && !System.IO.Directory.EnumerateFileSystemEntries(Directory).Any())
        {
            System.IO.Directory.Delete(Directory);
        }
    }

    /// <summary>
    /// The epochs done by the backup in <paramref name="directory"/>, read from its header alone
    /// (not checked against a run), or null when there is none.
    /// </summary>
    /// <exception cref="ModelFormatException">The backup is there but its header is unreadable.</exception>
    public static int? PeekEpochs(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        var metadata = SafeTensors.ReadMetadata(path);
        return metadata.TryGetValue("epochs_done", out string? text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int epochs)
            ? epochs
            : throw new ModelFormatException(path, "not a training backup (no epochs_done)");
    }

    // Our AtomicFile's names for a write that was cut short.
    private void RemoveTemporaryFiles()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return;
        }
        foreach (string stale in System.IO.Directory.EnumerateFiles(Directory, FileName + ".tmp-*"))
        {
            File.Delete(stale);
        }
    }

    /// <summary>The settings a backup must share with this run: the model's, the optimizer's, the loss's, the callbacks' and the caller's.</summary>
    private Dictionary<string, string> Fingerprint(Sequential model)
    {
        var optimizer = model.Optimizer ?? throw new InvalidOperationException("Compile the model before Fit.");
        string F(float? x) => x is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "none";
        var run = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["model.architecture"] = ModelFile.ArchitectureJson(model),
            ["model.input_shape"] = model.InputShape.ToString(),
            ["model.seed"] = model.Seed.ToString(CultureInfo.InvariantCulture),
            ["model.optimizer"] = optimizer.Name,
            ["model.optimizer.clip_norm"] = F(optimizer.ClipNorm),
            ["model.optimizer.ema_momentum"] = F(optimizer.EmaMomentum),
            ["model.optimizer.schedule"] = optimizer.Schedule?.GetType().Name ?? "none",
            ["model.loss.label_smoothing"] = F(model.Loss?.LabelSmoothing ?? 0),
            ["model.callbacks"] = string.Join(",", Callbacks(model).Select(c => c.GetType().Name)),
        };
        foreach (var (key, value) in optimizer.Config)
        {
            run["model.optimizer." + key] = value;
        }
        foreach (var (key, value) in _run)
        {
            if (!run.TryAdd(key, value))
            {
                throw new ArgumentException($"Run setting '{key}' is one BackupAndRestore records itself; give it another name.");
            }
        }
        return run;
    }

    private void Write(Sequential model, int epochsDone)
    {
        var optimizer = model.Optimizer!;
        var parameters = model.Parameters;
        var tensors = new List<NamedTensor> { Vector("weights", model.GetWeights()) };
        foreach (string slot in optimizer.SlotNames)
        {
            tensors.Add(Vector("optimizer." + slot, optimizer.GetSlot(slot, parameters)));
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = Format,
            ["format_version"] = FormatVersion,
            ["epochs_done"] = epochsDone.ToString(CultureInfo.InvariantCulture),
            ["training_steps"] = model.TrainingSteps.ToString(CultureInfo.InvariantCulture),
            ["stop_training"] = model.StopTraining ? "true" : "false",
            ["optimizer.iterations"] = optimizer.Iterations.ToString(CultureInfo.InvariantCulture),
            ["optimizer.learning_rate"] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["history"] = WriteHistory(_history),
        };
        foreach (var (key, value) in _fingerprint)
        {
            metadata[RunPrefix + key] = value;
        }
        var callbacks = Callbacks(model);
        for (int i = 0; i < callbacks.Count; i++)
        {
            if (callbacks[i] is IStatefulCallback stateful)
            {
                var state = new CallbackState();
                stateful.SaveState(state);
                string prefix = CallbackKey(i);
                foreach (var (key, value) in state.Values)
                {
                    metadata[prefix + key] = value;
                }
                foreach (var (key, values) in state.Arrays)
                {
                    tensors.Add(Vector(prefix + key, (float[])values.Clone()));
                }
            }
        }
        metadata[MetadataChecksumKey] = MetadataHash(metadata);
        metadata[SafeTensors.ChecksumKey] = SafeTensors.Sha256OfTensorBytes(tensors);
        SafeTensors.Write(FilePath, tensors, metadata);
    }

    /// <summary>Reads and checks the whole backup, then applies it; nothing is changed when it is refused.</summary>
    private void Restore(Sequential model)
    {
        string path = FilePath;
        var (tensors, metadata) = SafeTensors.Read(path);
        string Get(string key) => metadata.TryGetValue(key, out string? value) ? value : throw new ModelFormatException(path, $"not a complete training backup (no '{key}')");
        if (Get("format") != Format)
        {
            throw new ModelFormatException(path, "not a training backup");
        }
        if (Get("format_version") != FormatVersion)
        {
            throw new ModelFormatException(path, $"training backup format_version {Get("format_version")}; this version reads {FormatVersion}");
        }
        var unsigned = metadata.Where(e => e.Key is not MetadataChecksumKey and not SafeTensors.ChecksumKey).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        if (Get(MetadataChecksumKey) != MetadataHash(unsigned))
        {
            throw new ModelFormatException(path, $"corrupt training backup (its metadata does not match its {MetadataChecksumKey})");
        }
        CheckRun(path, metadata);

        var byName = tensors.ToDictionary(t => t.Name, t => t.Data, StringComparer.Ordinal);
        float[] Tensor(string name, int length)
        {
            if (!byName.TryGetValue(name, out float[]? data))
            {
                throw new ModelFormatException(path, $"not a complete training backup (no tensor '{name}')");
            }
            return data.Length == length ? data : throw new ModelFormatException(path, $"tensor '{name}' has {data.Length} values, not {length}");
        }
        int epochsDone = ParseInt(path, "epochs_done", Get("epochs_done"));
        long steps = ParseLong(path, "training_steps", Get("training_steps"));
        long iterations = ParseLong(path, "optimizer.iterations", Get("optimizer.iterations"));
        if (!float.TryParse(Get("optimizer.learning_rate"), NumberStyles.Float, CultureInfo.InvariantCulture, out float rate) || !(rate > 0) || float.IsInfinity(rate))
        {
            throw new ModelFormatException(path, $"optimizer.learning_rate '{Get("optimizer.learning_rate")}' is not a positive number");
        }
        var history = ReadHistory(path, Get("history"));
        if (history.Count != epochsDone)
        {
            throw new ModelFormatException(path, $"the history holds {history.Count} epochs but epochs_done is {epochsDone}");
        }
        var optimizer = model.Optimizer!;
        float[] weights = Tensor("weights", model.ParameterCount + model.NonTrainableParameterCount);
        var slots = optimizer.SlotNames.ToDictionary(slot => slot, slot => Tensor("optimizer." + slot, model.ParameterCount), StringComparer.Ordinal);

        // Every callback's state is parsed before anything changes.
        var callbacks = Callbacks(model);
        var states = new List<(IStatefulCallback Callback, CallbackState State, int Index)>();
        for (int i = 0; i < callbacks.Count; i++)
        {
            if (callbacks[i] is IStatefulCallback stateful)
            {
                string prefix = CallbackKey(i);
                var state = new CallbackState();
                foreach (var (key, value) in metadata.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)))
                {
                    state.Set(key[prefix.Length..], value);
                }
                foreach (var tensor in tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)))
                {
                    state.SetArray(tensor.Name[prefix.Length..], tensor.Data);
                }
                states.Add((stateful, state, i));
            }
        }

        // The callbacks may throw on a bad value; the model's own state changes last.
        foreach (var (callback, state, index) in states)
        {
            try
            {
                callback.RestoreState(state);
            }
            catch (FormatException e)
            {
                throw new ModelFormatException(path, $"{callbacks[index].GetType().Name}: {e.Message}", e);
            }
        }
        model.SetWeights(weights);
        optimizer.RestoreState(iterations, rate, model.Parameters, slots);
        model.StopTraining = Get("stop_training") == "true";
        model.ResumeAfter(epochsDone, history, steps);
        _history.AddRange(history);
        RestoredEpochs = epochsDone;
    }

    /// <summary>Refuses a backup written by another run, naming what differs.</summary>
    private void CheckRun(string path, IReadOnlyDictionary<string, string> metadata)
    {
        var differences = new List<string>();
        var recorded = metadata.Where(e => e.Key.StartsWith(RunPrefix, StringComparison.Ordinal)).ToDictionary(e => e.Key[RunPrefix.Length..], e => e.Value, StringComparer.Ordinal);
        foreach (string key in _fingerprint.Keys.Union(recorded.Keys).Order(StringComparer.Ordinal))
        {
            recorded.TryGetValue(key, out string? there);
            _fingerprint.TryGetValue(key, out string? here);
            if (there == here)
            {
                continue;
            }
            differences.Add(there is null ? $"{key} is not in the backup"
                : here is null ? $"{key} is set only in the backup"
                : there.Length > 40 || here.Length > 40 ? $"the {key} differs"
                : $"{key} is {there} there, {here} here");
        }
        if (differences.Count > 0)
        {
            string shown = string.Join("; ", differences.Take(3)) + (differences.Count > 3 ? $"; and {differences.Count - 3} more" : "");
            throw new ModelFormatException(path, $"this backup belongs to a different run ({shown}); run the same command again to resume it, or delete {Directory} to start afresh");
        }
    }

    /// <summary>The Fit's callbacks in the order they run, any CallbackList opened up.</summary>
    private static List<Callback> Callbacks(Sequential model)
    {
        var all = new List<Callback>();
        void Add(IEnumerable<Callback> callbacks)
        {
            foreach (var callback in callbacks)
            {
                if (callback is CallbackList list)
                {
                    Add(list.Callbacks);
                }
                else
                {
                    all.Add(callback);
                }
            }
        }
        Add(model.FitCallbacks);
        return all;
    }

    private static string CallbackKey(int index) => string.Create(CultureInfo.InvariantCulture, $"{CallbackPrefix}{index}.");

    private static NamedTensor Vector(string name, float[] values) => new(name, [values.Length], values);

    // SHA-256 of "key=value\n" for every entry, in ordinal key order.
    private static string MetadataHash(IReadOnlyDictionary<string, string> metadata)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in metadata.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append(key).Append('=').Append(value).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    // One line per epoch: epoch, loss, accuracy, val_loss, val_accuracy, rate, seconds, each round-trip.
    private static string WriteHistory(IEnumerable<EpochLog> history) => string.Join('\n', history.Select(e => string.Join(',',
        e.Epoch.ToString(CultureInfo.InvariantCulture),
        R(e.Loss), R(e.Accuracy), R(e.ValidationLoss), R(e.ValidationAccuracy), R(e.LearningRate), R(e.Seconds))));

    private static string R(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    private static List<EpochLog> ReadHistory(string path, string text)
    {
        var logs = new List<EpochLog>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = line.Split(',');
            var values = new double[6];
            if (fields.Length != 7
                || !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int epoch)
                || epoch != logs.Count + 1
                || !fields.Skip(1).Select((f, i) => double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i])).All(ok => ok))
            {
                throw new ModelFormatException(path, $"history line {logs.Count + 1} '{line}' is not an epoch's log");
            }
            logs.Add(new EpochLog(epoch, values[0], values[1], values[2], values[3], values[4], values[5]));
        }
        return logs;
    }

    private static int ParseInt(string path, string key, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : throw new ModelFormatException(path, $"{key} '{text}' is not a count");

    private static long ParseLong(string path, string key, string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : throw new ModelFormatException(path, $"{key} '{text}' is not a count");
}
