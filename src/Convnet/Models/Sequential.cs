using System.Diagnostics;
using System.Globalization;
using System.Text;
using Convnet.Data;
using Convnet.Layers;
using Convnet.Losses;
using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// A linear stack of layers, as Keras's Sequential: Add layers, Compile with an optimizer and a
/// loss, then Fit, Evaluate and Predict. Parameters live in one flat buffer; a training step
/// allocates nothing once the buffers for its batch size exist.
/// </summary>
public sealed class Sequential : IClassifier
{
    private const int InferenceBatch = 256;

    private readonly List<Layer> _layers = [];
    private readonly ParameterStore _store = new();
    private readonly List<LayerContext> _contexts = [];
    private WorkerPool _pool;
    private Tensor? _input;
    private Tensor? _dlogits;
    private int[] _labels = [];
    private long _step;
    private (int Epochs, IReadOnlyList<EpochLog> History)? _resume;
    private readonly BatchAugmenter _augmenter = new();

    /// <param name="inputShape">Shape of one sample, e.g. Shape.Image(28, 28, 1).</param>
    /// <param name="seed">Seeds weight initialisation.</param>
    /// <param name="threads">Worker threads; 0 means one per core.</param>
    public Sequential(Shape inputShape, ulong seed = 0, int threads = 0)
    {
        if (threads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be 0 (one per core) or positive.");
        }
        InputShape = inputShape;
        Seed = seed;
        _pool = new WorkerPool(threads == 0 ? Environment.ProcessorCount : threads);
    }

    /// <summary>Shape of one sample, as given to the constructor.</summary>
    public Shape InputShape { get; }
    /// <summary>The seed of weight initialisation (each layer's weights come from a stream derived from it and the layer's index).</summary>
    public ulong Seed { get; }
    /// <summary>The name <see cref="Summary"/> prints; "sequential" by default.</summary>
    public string Name { get; init; } = "sequential";
    /// <summary>
    /// The name of each class the model scores, in output order (kept in the model file as
    /// "class_names"), or null when the classes are just their numbers. Setting it checks the names
    /// (<see cref="Dataset.CheckClassNames"/>) and, once the model has its output layer, their count.
    /// </summary>
    public IReadOnlyList<string>? ClassNames
    {
        get => _classNames;
        set
        {
            if (value is not null)
            {
                Dataset.CheckClassNames(value, nameof(value));
                if (_layers.Count > 0 && !OutputShape.IsImage && value.Count != Classes)
                {
                    throw new ArgumentException($"{value.Count} class names for a model that scores {Classes} classes.", nameof(value));
                }
            }
            _classNames = value is null ? null : Array.AsReadOnly(value.ToArray());
        }
    }

    private IReadOnlyList<string>? _classNames;

    /// <summary>The layers in order, input first, with their unique names (e.g. "conv2d", "conv2d_1").</summary>
    public IReadOnlyList<Layer> Layers => _layers;
    /// <summary>Shape of the last layer's output for one sample (<see cref="InputShape"/> while there are no layers).</summary>
    public Shape OutputShape => _layers.Count == 0 ? InputShape : _layers[^1].OutputShape;
    /// <summary>The trainable tensors (kernels, biases, ...), views into one flat buffer in model order (the start of what <see cref="GetWeights"/> returns).</summary>
    public IReadOnlyList<Parameter> Parameters => _store.Parameters;
    /// <summary>Trainable parameters (those the optimizer updates).</summary>
    public int ParameterCount => _store.Count;

    /// <summary>Non-trainable state values saved with the model, e.g. BatchNormalization's moving statistics.</summary>
    public int NonTrainableParameterCount => _layers.Sum(l => l.StateCount);

    /// <summary>Set by a callback (e.g. EarlyStopping) to end Fit after the current epoch; Fit clears it when it starts.</summary>
    public bool StopTraining { get; set; }

    /// <summary>Training steps taken by this model (keys per-step random streams such as Dropout's).</summary>
    public long TrainingSteps => _step;
    /// <summary>The optimizer given to <see cref="Compile"/>; null before.</summary>
    public Optimizer? Optimizer { get; private set; }
    /// <summary>The loss given to <see cref="Compile"/> (a default <see cref="SparseCategoricalCrossentropy"/> when none was); null before.</summary>
    public SparseCategoricalCrossentropy? Loss { get; private set; }

    /// <summary>Worker threads used by Fit, Evaluate and Predict; results do not depend on it.</summary>
    public int Threads
    {
        get => _pool.ThreadCount;
        set
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be at least 1.");
            }
            if (value == _pool.ThreadCount)
            {
                return;
            }
            _pool.Dispose();
            _pool = new WorkerPool(value);
            InvalidateInference();
            foreach (var context in _contexts)
            {
                context.Pool = _pool;
            }
        }
    }

    /// <summary>
    /// Appends a layer and builds it for the current output shape, after checking, without
    /// allocating, that its sizes fit in arrays and that the model stays within <see cref="MemoryBudget.Limit"/>.
    /// </summary>
    /// <exception cref="ModelTooLargeException">A size beyond one array, or an estimate above the memory limit.</exception>
    public Sequential Add(Layer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (layer.IsBuilt)
        {
            throw new ArgumentException($"Layer {layer.Name} already belongs to a model.", nameof(layer));
        }
        var (parameters, state) = CheckFits(layer);
        int same = _layers.Count(l => l.DefaultName == layer.DefaultName);
        layer.Name = same == 0 ? layer.DefaultName : $"{layer.DefaultName}_{same}";
        var context = new LayerContext(_pool, _store, Seed, _layers.Count);
        layer.ComputeInputGradient = _layers.Count > 0;
        layer.Build(OutputShape, context);
        if (layer.ParameterCount != parameters || layer.StateCount != state)
        {
            throw new InvalidOperationException($"{layer.TypeName} declares {parameters} parameter and {state} state values in DeclareTensors but built {layer.ParameterCount} and {layer.StateCount}.");
        }
        _layers.Add(layer);
        _contexts.Add(context);
        PlanFusion();
        InvalidateInference();
        return this;
    }

    /// <summary>
    /// The values <paramref name="layer"/> would add (trainable, non-trainable) on this model's
    /// output, from its declarations alone; throws when they or its output do not fit.
    /// </summary>
    private (long Parameters, long State) CheckFits(Layer layer)
    {
        var output = layer.ComputeOutputShape(OutputShape);
        long outputValues = (long)output.Height * output.Width * output.Channels;
        if (outputValues > Array.MaxLength)
        {
            throw new ModelTooLargeException($"its output {output} would hold more values than one array can ({Array.MaxLength:N0})");
        }
        IReadOnlyList<TensorDeclaration> declared;
        try
        {
            declared = layer.DeclareTensors(OutputShape);
        }
        catch (ArgumentException e) when (e is not ModelTooLargeException)
        {
            throw new ModelTooLargeException(e.Message);
        }
        long state = declared.Where(d => d.IsState).Sum(d => (long)d.Length);
        long parameters = declared.Where(d => !d.IsState).Sum(d => (long)d.Length);
        if (_store.Count + parameters > Array.MaxLength)
        {
            throw new ModelTooLargeException($"the model's {_store.Count + parameters:N0} parameters would be more than one array can hold ({Array.MaxLength:N0})");
        }
        long parameterBytes = MemoryBudget.ParameterBytes(_store.Count + parameters, NonTrainableParameterCount + state);
        MemoryBudget.Check(parameterBytes, MemoryBudget.BufferBytes([.. _layers, layer], InputShape, 1), 1);
        return (parameters, state);
    }

    /// <summary>Sets how <see cref="Fit"/> trains, as Keras's compile; may be called again to change them.</summary>
    /// <param name="optimizer">Updates the parameters after each batch.</param>
    /// <param name="loss">The loss to minimise; null for a default <see cref="SparseCategoricalCrossentropy"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The model has no layers, or its output is an image rather than a vector of class scores.</exception>
    public void Compile(Optimizer optimizer, SparseCategoricalCrossentropy? loss = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (_layers.Count == 0)
        {
            throw new InvalidOperationException("Add layers before compiling.");
        }
        if (OutputShape.IsImage)
        {
            throw new InvalidOperationException($"The model's output {OutputShape} must be a vector of class scores.");
        }
        Optimizer = optimizer;
        Loss = loss ?? new SparseCategoricalCrossentropy();
    }

    /// <summary>Number of classes the model scores.</summary>
    public int Classes => OutputShape.Size;

    /// <summary>Cross-entropy is fused with a final Softmax: training stops the forward pass at its input.</summary>
    private int LogitsLayerCount => _layers[^1] is Softmax ? _layers.Count - 1 : _layers.Count;

    /// <summary>
    /// Trains for <paramref name="epochs"/> epochs on <paramref name="train"/>. Validation uses
    /// <paramref name="validationData"/>, or else a stratified <paramref name="validationSplit"/> of
    /// the training data. <paramref name="seed"/> fixes the split and the shuffling, and with
    /// <paramref name="augmentation"/> each training image's random transform in each epoch, keyed
    /// by (seed, epoch, index in the training data). Validation and Evaluate never augment.
    /// <paramref name="callbacks"/> are called as Keras's CallbackList: train, epoch and batch
    /// begin/end, in the order given.
    /// </summary>
    public History Fit(
        Dataset train,
        int epochs = 1,
        int batchSize = 32,
        Dataset? validationData = null,
        double validationSplit = 0,
        bool shuffle = true,
        ulong seed = 0,
        CancellationToken cancellationToken = default,
        IReadOnlyList<Callback>? callbacks = null,
        Augmentation? augmentation = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        augmentation ??= Augmentation.None;
        if (Optimizer is null || Loss is null)
        {
            throw new InvalidOperationException("Compile the model before Fit.");
        }
        if (epochs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "epochs must be non-negative.");
        }
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        }
        if (!(validationSplit >= 0 && validationSplit < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(validationSplit), validationSplit, "validationSplit must be in [0, 1).");
        }
        CheckData(train, nameof(train));
        CheckAugmentation(augmentation);
        if (validationData is null && validationSplit > 0)
        {
            (train, validationData) = train.SplitStratified(validationSplit, seed);
        }
        if (validationData is not null)
        {
            CheckData(validationData, nameof(validationData));
        }

        int n = train.Count;
        EnsureCapacity(Math.Min(batchSize, n));
        var order = new int[n];
        var history = new History();
        int batches = (n + batchSize - 1) / batchSize;
        var hooks = new CallbackList(callbacks);
        StopTraining = false;
        _resume = null;
        FitCallbacks = hooks.Callbacks;
        hooks.SetModel(this);
        hooks.OnTrainBegin();
        int firstEpoch = 0;
        if (_resume is { } resume)
        {
            firstEpoch = resume.Epochs;
            foreach (var log in resume.History)
            {
                history.Add(log);
            }
        }
        for (int epoch = firstEpoch; epoch < epochs && !StopTraining; epoch++)
        {
            hooks.OnEpochBegin(epoch + 1);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                order[i] = i;
            }
            if (shuffle)
            {
                var rng = Rng.Derive(seed, 0xE90C_0000UL + (ulong)epoch);
                rng.Shuffle(order.AsSpan());
            }
            double lossSum = 0;
            long correct = 0;
            int seen = 0;
            for (int b = 0; b < batches && !StopTraining; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                hooks.OnBatchBegin(epoch + 1, b + 1);
                int count = Math.Min(batchSize, n - seen);
                var indices = order.AsSpan(seen, count);
                double batchLoss = TrainBatch(train, indices, augmentation, seed, epoch, out int batchCorrect);
                lossSum += batchLoss;
                correct += batchCorrect;
                seen += count;
                hooks.OnBatchEnd(new BatchLog(epoch + 1, epochs, b + 1, batches, seen, n, lossSum / seen, (double)correct / seen, batchLoss / count, clock.Elapsed.TotalSeconds));
            }
            if (seen < n)
            {
                // Stopped within the epoch (e.g. by TerminateOnNaN): no epoch log for a partial epoch.
                break;
            }
            // The rate of the epoch's last step: per-epoch callbacks change it only between epochs.
            double rate = Optimizer.LearningRate;
            double valLoss = double.NaN, valAccuracy = double.NaN;
            if (validationData is not null)
            {
                (valLoss, valAccuracy) = Evaluate(validationData);
            }
            var log = new EpochLog(epoch + 1, lossSum / n, (double)correct / n, valLoss, valAccuracy, rate, clock.Elapsed.TotalSeconds);
            history.Add(log);
            hooks.OnEpochEnd(log);
        }
        // As Keras: the moving averages of the weights (if the optimizer keeps them) replace the
        // weights before OnTrainEnd, so EarlyStopping's restored best weights still win.
        Optimizer.FinalizeVariableValues(_store.Parameters);
        InvalidateInference();
        hooks.OnTrainEnd();
        return history;
    }

    /// <summary>The callbacks of the latest Fit, for BackupAndRestore to save the others' state.</summary>
    internal IReadOnlyList<Callback> FitCallbacks { get; private set; } = [];

    /// <summary>
    /// Called from a callback's OnTrainBegin (BackupAndRestore, which has restored the weights and
    /// the optimizer): Fit continues after epoch <paramref name="epochsDone"/> with
    /// <paramref name="history"/> as its first epochs, and the step counter that keys Dropout's
    /// masks continues from <paramref name="trainingSteps"/>, as Keras's model._initial_epoch.
    /// </summary>
    internal void ResumeAfter(int epochsDone, IReadOnlyList<EpochLog> history, long trainingSteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epochsDone);
        ArgumentOutOfRangeException.ThrowIfNegative(trainingSteps);
        _resume = (epochsDone, history);
        _step = trainingSteps;
    }

    /// <summary>One optimisation step on the samples at <paramref name="indices"/>; returns the summed loss.</summary>
    public double TrainBatch(Dataset data, ReadOnlySpan<int> indices, out int correct) =>
        TrainBatch(data, indices, Augmentation.None, 0, 0, out correct);

    /// <summary>
    /// One optimisation step on the samples at <paramref name="indices"/>, each first warped by its
    /// random transform for (<paramref name="seed"/>, <paramref name="epoch"/>, its index), as Fit
    /// does with augmentation; returns the summed loss.
    /// </summary>
    public double TrainBatch(Dataset data, ReadOnlySpan<int> indices, Augmentation augmentation, ulong seed, int epoch, out int correct)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(augmentation);
        if (Optimizer is null || Loss is null)
        {
            throw new InvalidOperationException("Compile the model before training.");
        }
        CheckAugmentation(augmentation);
        int count = indices.Length;
        EnsureCapacity(count);
        _input!.SetBatch(count);
        data.CopyBatch(indices, _input.Span, _labels.AsSpan(0, count));
        _augmenter.Apply(_pool, augmentation, _input, indices, seed, epoch);
        return TrainLoadedBatch(count, out correct);
    }

    private void CheckAugmentation(Augmentation augmentation)
    {
        if (!augmentation.IsIdentity && !InputShape.IsImage)
        {
            throw new ArgumentException($"Augmentation warps images, but the model takes {InputShape}.", nameof(augmentation));
        }
    }

    private double TrainLoadedBatch(int count, out int correct)
    {
        _step++;
        InvalidateInference();
        foreach (var context in _contexts)
        {
            context.TrainingStep = _step;
        }
        int logitsLayers = LogitsLayerCount;
        var t = _input!;
        for (int i = 0; i < logitsLayers; i++)
        {
            t = _layers[i].Forward(t, training: true);
        }
        _dlogits!.SetBatch(count);
        double loss = Loss!.Compute(t.Span, _labels.AsSpan(0, count), count, Classes, _dlogits.Span, out correct);

        _store.ZeroGradients();
        Tensor? g = _dlogits;
        for (int i = logitsLayers - 1; i >= 0 && g is not null; i--)
        {
            g = _layers[i].Backward(g);
        }
        Optimizer!.Step(_store.Parameters, _pool);
        return loss;
    }

    /// <summary>Mean loss and accuracy on labelled data, in inference mode.</summary>
    public (double Loss, double Accuracy) Evaluate(Dataset data, int batchSize = InferenceBatch)
    {
        CheckData(data, nameof(data));
        var loss = Loss ?? new SparseCategoricalCrossentropy();
        double total = 0;
        long correct = 0;
        ForEachBatch(data, batchSize, logitsOnly: true, (start, count, logits) =>
        {
            total += loss.Compute(logits.Span, _labels.AsSpan(0, count), count, Classes, default, out int c);
            correct += c;
        });
        return (total / data.Count, (double)correct / data.Count);
    }

    /// <summary>
    /// The model's outputs (class probabilities when it ends with Softmax): [data.Count, Classes].
    /// Runs the inference plan (fused stages, Winograd 3×3 convolutions, prepacked weights; see
    /// <see cref="InferencePlan"/>) when every layer has a stage, <paramref name="batchSize"/> then
    /// being irrelevant; its outputs agree with <see cref="Evaluate"/>'s layer-by-layer pass to about
    /// 1e-6 and are the same bits for any batch size and thread count. The plan is built on first use
    /// after the weights change through the model (Fit, TrainBatch, SetWeights, a new thread count);
    /// values written straight into a <see cref="Parameter"/> or a layer's state after a Predict are
    /// seen once one of those has run.
    /// </summary>
    public float[] Predict(Dataset data, int batchSize = InferenceBatch)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (_layers.Count > 0 && data.SampleShape == InputShape && Plan() is { } plan)
        {
            return plan.Predict(data, _pool);
        }
        var result = new float[data.Count * Classes];
        ForEachBatch(data, batchSize, logitsOnly: false, (start, count, output) => output.Span.CopyTo(result.AsSpan(start * Classes)));
        return result;
    }

    /// <summary>Outputs for samples already scaled to floats. x: [n, H, W, C] → [n, Classes].</summary>
    public float[] Predict(ReadOnlySpan<float> x)
    {
        int size = InputShape.Size;
        if (x.Length == 0 || x.Length % size != 0)
        {
            throw new ArgumentException($"Input length {x.Length} is not a positive multiple of the sample size {size}.", nameof(x));
        }
        int n = x.Length / size;
        if (Plan() is { } plan)
        {
            unsafe
            {
                fixed (float* source = x)
                {
                    return plan.Predict(source, n, _pool);
                }
            }
        }
        var result = new float[n * Classes];
        for (int start = 0; start < n; start += InferenceBatch)
        {
            int count = Math.Min(InferenceBatch, n - start);
            EnsureCapacity(count);
            _input!.SetBatch(count);
            x.Slice(start * size, count * size).CopyTo(_input.Span);
            Forward(_layers.Count).Span.CopyTo(result.AsSpan(start * Classes));
        }
        return result;
    }

    private void ForEachBatch(Dataset data, int batchSize, bool logitsOnly, Action<int, int, Tensor> onBatch)
    {
        if (_layers.Count == 0)
        {
            throw new InvalidOperationException("The model has no layers.");
        }
        if (data.SampleShape != InputShape)
        {
            throw new ArgumentException($"The data's samples are {data.SampleShape} but the model takes {InputShape}.", nameof(data));
        }
        var index = new int[Math.Min(batchSize, data.Count)];
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, data.Count - start);
            EnsureCapacity(count);
            for (int i = 0; i < count; i++)
            {
                index[i] = start + i;
            }
            _input!.SetBatch(count);
            data.CopyBatch(index.AsSpan(0, count), _input.Span, data.HasLabels ? _labels.AsSpan(0, count) : default);
            onBatch(start, count, Forward(logitsOnly ? LogitsLayerCount : _layers.Count));
        }
    }

    private InferencePlan? _plan;
    private bool _planned;

    /// <summary>The inference plan for the current layers and weights, built on first use after they change; null when a layer has no stage or fusion is off.</summary>
    private InferencePlan? Plan()
    {
        if (!_planned)
        {
            var plan = _fusionEnabled && _layers.Count > 0 ? InferencePlan.TryCreate(_layers, InputShape) : null;
            if (plan is not null)
            {
                // Every thread may hold a group's buffers.
                MemoryBudget.Check(MemoryBudget.ParameterBytes(ParameterCount, NonTrainableParameterCount), plan.WorkspaceBytes * _pool.ThreadCount, Chunks.Size);
            }
            _plan = plan;
            _planned = true;
        }
        return _plan;
    }

    /// <summary>Drops the inference plan (its packed weights are stale): on adding a layer, every training step, SetWeights, the end of Fit, and a new thread count (its memory check).</summary>
    internal void InvalidateInference()
    {
        _plan = null;
        _planned = false;
    }

    /// <summary>The inference plan's stages (e.g. "conv2d_1 + re_lu_1 + max_pooling2d_1 (Winograd)"), or null when Predict runs layer by layer.</summary>
    internal IReadOnlyList<string>? InferenceStages => Plan()?.Describe();

    private Tensor Forward(int layerCount)
    {
        var t = _input!;
        for (int i = 0; i < layerCount; i++)
        {
            t = _layers[i].Forward(t, training: false);
        }
        return t;
    }

    /// <summary>
    /// Lets each layer fuse with its neighbours (<see cref="Layer.PlanFusion(Layer?, Layer?, Layer?)"/>), whenever the layers
    /// change: e.g. Conv2D/Dense → ReLU rectifies in the GEMM epilogue, ReLU → MaxPooling2D or
    /// BatchNormalization applies the ReLU's mask in the next layer's backward pass, a first
    /// Conv2D → ReLU → MaxPooling2D trains image by image through the pool. Results are
    /// bit-identical to the unfused layers.
    /// </summary>
    private void PlanFusion()
    {
        for (int i = 0; i < _layers.Count; i++)
        {
            var previous = i > 0 && _fusionEnabled ? _layers[i - 1] : null;
            var next = i + 1 < _layers.Count && _fusionEnabled ? _layers[i + 1] : null;
            var afterNext = i + 2 < _layers.Count && _fusionEnabled ? _layers[i + 2] : null;
            _layers[i].PlanFusion(previous, next, afterNext);
        }
    }

    private bool _fusionEnabled = true;

    /// <summary>Off only in tests that compare the fused layers with the plain ones.</summary>
    internal bool FusionEnabled
    {
        get => _fusionEnabled;
        set
        {
            _fusionEnabled = value;
            PlanFusion();
            InvalidateInference();
        }
    }

    private void EnsureCapacity(int batch)
    {
        if (_input is not null && _input.Capacity >= batch)
        {
            return;
        }
        MemoryBudget.Check(MemoryBudget.ParameterBytes(ParameterCount, NonTrainableParameterCount), MemoryBudget.BufferBytes(_layers, InputShape, batch), batch);
        _input = new Tensor(InputShape, batch);
        _labels = new int[batch];
        _dlogits = new Tensor(_layers[LogitsLayerCount - 1].OutputShape, batch);
        foreach (var layer in _layers)
        {
            layer.EnsureCapacity(batch);
        }
    }

    private void CheckData(Dataset data, string name)
    {
        if (data.SampleShape != InputShape)
        {
            throw new ArgumentException($"The data's samples are {data.SampleShape} but the model takes {InputShape}.", name);
        }
        if (!data.HasLabels)
        {
            throw new ArgumentException("Training and evaluation need labelled data.", name);
        }
        if (data.Count == 0)
        {
            throw new ArgumentException("The data set is empty.", name);
        }
        int classes = data.ClassCount();
        if (classes > Classes)
        {
            throw new ArgumentException($"The data has label {classes - 1} but the model scores only {Classes} classes.", name);
        }
    }

    /// <summary>The layer table, as Keras's model.summary().</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        string rule = new('_', 65);
        sb.AppendLine(CultureInfo.InvariantCulture, $"Model: \"{Name}\"");
        sb.AppendLine(rule);
        sb.AppendLine(" Layer (type)                Output Shape              Param #   ");
        sb.AppendLine(new string('=', 65));
        for (int i = 0; i < _layers.Count; i++)
        {
            var layer = _layers[i];
            string name = $"{layer.Name} ({layer.TypeName})";
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $" {name,-27} {layer.OutputShape.ToBatchString(),-25} {layer.ParameterCount + layer.StateCount,-10}").TrimEnd());
            if (i < _layers.Count - 1)
            {
                sb.AppendLine();
            }
        }
        sb.AppendLine(new string('=', 65));
        int total = ParameterCount + NonTrainableParameterCount;
        sb.AppendLine(CultureInfo.InvariantCulture, $"Total params: {total:N0} ({total * 4 / 1024.0:F2} KB)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Trainable params: {ParameterCount:N0} ({ParameterCount * 4 / 1024.0:F2} KB)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Non-trainable params: {NonTrainableParameterCount:N0} ({NonTrainableParameterCount * 4 / 1024.0:F2} KB)");
        sb.AppendLine(rule);
        return sb.ToString();
    }

    /// <summary>A copy of every trainable parameter, then every layer's non-trainable state, in model order.</summary>
    public float[] GetWeights()
    {
        var weights = new float[ParameterCount + NonTrainableParameterCount];
        _store.Values.CopyTo(weights, 0);
        int at = _store.Count;
        foreach (var state in _layers.SelectMany(l => l.State))
        {
            state.Values.CopyTo(weights, at);
            at += state.Values.Length;
        }
        return weights;
    }

    /// <summary>Whether every trainable parameter and every non-trainable state value is finite (no NaN or infinity: the model has not diverged).</summary>
    public bool WeightsAreFinite()
    {
        if (!AllFinite(_store.Values))
        {
            return false;
        }
        foreach (var layer in _layers)
        {
            foreach (var state in layer.State)
            {
                if (!AllFinite(state.Values))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Restores weights taken by <see cref="GetWeights"/> from this model or one of the same architecture.</summary>
    public void SetWeights(ReadOnlySpan<float> weights)
    {
        if (weights.Length != ParameterCount + NonTrainableParameterCount)
        {
            throw new ArgumentException($"Expected {ParameterCount + NonTrainableParameterCount} weights, got {weights.Length}.", nameof(weights));
        }
        weights[.._store.Count].CopyTo(_store.Values);
        int at = _store.Count;
        foreach (var state in _layers.SelectMany(l => l.State))
        {
            weights.Slice(at, state.Values.Length).CopyTo(state.Values);
            at += state.Values.Length;
        }
        InvalidateInference();
    }

    /// <summary>Whether <paramref name="other"/> has the same layers with the same settings, in the same order, on the same input.</summary>
    public bool HasSameArchitecture(Sequential other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return InputShape == other.InputShape && _layers.Count == other._layers.Count
            && _layers.Zip(other._layers).All(pair => pair.First.TypeName == pair.Second.TypeName
                && pair.First.Config.Count == pair.Second.Config.Count
                && pair.First.Config.All(e => pair.Second.Config.TryGetValue(e.Key, out var v) && v == e.Value));
    }

    /// <summary>
    /// A new model of the same layers, input, seed and class names holding a copy of this one's weights (and
    /// non-trainable state), with no optimizer and none of the training buffers: e.g. to keep a
    /// trained model at the cost of its parameters only.
    /// </summary>
    /// <param name="threads">The copy's worker threads; 0 means one per core.</param>
    public Sequential Clone(int threads = 1)
    {
        var copy = new Sequential(InputShape, Seed, threads) { Name = Name };
        try
        {
            foreach (var layer in _layers)
            {
                copy.Add(LayerRegistry.Create(layer.TypeName, layer.Config));
            }
            copy.SetWeights(GetWeights());
            copy.ClassNames = ClassNames;
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A new model of this one's layers and input on <paramref name="seed"/> and
    /// <paramref name="threads"/>, starting from this one's weights (to fine-tune it, as
    /// <c>convnet train --from</c>): every layer's when <paramref name="classes"/> is
    /// <see cref="Classes"/>; otherwise every layer's but the last Dense, which gets
    /// <paramref name="classes"/> units initialised from <paramref name="seed"/> as in a new model
    /// (the layers after it have no weights), and the copy has no class names.
    /// </summary>
    /// <exception cref="ArgumentException">The class count differs and the model has no Dense layer, or a layer after its last Dense has weights.</exception>
    public Sequential ForClasses(int classes, ulong seed, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        int head = classes == Classes ? -1 : _layers.FindLastIndex(l => l is Dense);
        if (classes != Classes)
        {
            if (head < 0)
            {
                throw new ArgumentException($"The model has no Dense layer to give {classes} outputs instead of {Classes}.", nameof(classes));
            }
            if (_layers.Skip(head + 1).FirstOrDefault(l => l.ParameterCount + l.StateCount > 0) is { } after)
            {
                throw new ArgumentException($"Layer {after.Name} ({after.TypeName}) after the last Dense has weights sized for {Classes} classes.", nameof(classes));
            }
        }
        var copy = new Sequential(InputShape, seed, threads) { Name = Name };
        try
        {
            for (int i = 0; i < _layers.Count; i++)
            {
                var layer = _layers[i];
                copy.Add(i == head ? new Dense(classes) : LayerRegistry.Create(layer.TypeName, layer.Config));
                if (i != head)
                {
                    copy._layers[i].LoadOwnTensors(layer.SaveOwnTensors());
                }
            }
            copy.ClassNames = head < 0 ? ClassNames : null;
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>Stops the model's worker threads.</summary>
    public void Dispose() => _pool.Dispose();
}
