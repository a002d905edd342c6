using Convnet.Inference;
using Convnet.IO.Onnx;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>What a layer needs when it is built: the shared buffers and threads of its model.</summary>
public sealed class LayerContext(WorkerPool pool, ParameterStore parameters, ulong seed, int index)
{
    /// <summary>The model's threads; replaced when the model's thread count changes.</summary>
    public WorkerPool Pool { get; internal set; } = pool;
    /// <summary>The model's parameter buffers, where <see cref="Layer.Build"/> adds this layer's parameters.</summary>
    public ParameterStore Parameters { get; } = parameters;
    /// <summary>The model's seed; with <see cref="Index"/>, it keys this layer's random streams.</summary>
    public ulong Seed { get; } = seed;
    /// <summary>Position in the model; seeds this layer's own random stream.</summary>
    public int Index { get; } = index;

    /// <summary>A fresh generator for this layer's own stream, derived from (<see cref="Seed"/>, <see cref="Index"/>); every call starts it anew.</summary>
    public Rng CreateRng() => Rng.Derive(Seed, (ulong)Index);

    /// <summary>
    /// The model's training step (1 for the first), set by <see cref="Models.Sequential.TrainBatch(Data.Dataset, ReadOnlySpan{int}, Data.Augmentation, ulong, int, out int)"/>
    /// before the forward pass; keys per-step random streams such as Dropout's masks.
    /// </summary>
    public long TrainingStep { get; set; }
}

/// <summary>
/// Non-trainable state of a layer that is saved with the model but never seen by an optimizer,
/// e.g. BatchNormalization's moving mean (saved as "&lt;i&gt;.running_mean").
/// </summary>
public sealed class LayerState(string name, float[] values)
{
    /// <summary>The PyTorch state-dict suffix, e.g. "running_mean".</summary>
    public string Name { get; } = name;

    /// <summary>The state's values, e.g. one per channel; updated in place by the layer.</summary>
    public float[] Values { get; } = values;
}

/// <summary>
/// A layer of a <see cref="Models.Sequential"/>. The constructor validates hyperparameters,
/// <see cref="Build"/> creates parameters, <see cref="EnsureCapacity"/> allocates the batch buffers
/// (once per batch size, never in the training loop), and Forward/Backward reuse them.
/// Backward accumulates parameter gradients; only <see cref="ParameterStore.ZeroGradients"/> clears them.
/// Each layer class also knows itself (see <see cref="ILayerKind"/> and <see cref="LayerRegistry"/>):
/// its <see cref="Config"/> and spec token (<see cref="FormatToken"/>), the tensors it saves under
/// PyTorch's names (<see cref="DeclareTensors"/>, <see cref="SaveOwnTensors"/>,
/// <see cref="LoadOwnTensors"/>), what it fuses with (<see cref="PlanFusion(Layer?, Layer?)"/>), its inference stage (<see cref="CompileInference"/>) and the memory its
/// batch buffers take (<see cref="BufferValues"/>).
/// </summary>
public abstract class Layer
{
    private readonly List<Parameter> _parameters = [];
    private readonly List<LayerState> _state = [];
    private readonly Action<int> _forwardChunk;
    private readonly Action<int> _backwardChunk;
    private LayerContext? _context;

    /// <summary>Prepares the chunk callbacks; a subclass validates its hyperparameters in its own constructor.</summary>
    protected Layer()
    {
        _forwardChunk = RunForwardChunk;
        _backwardChunk = RunBackwardChunk;
    }

    // The items of the running ForwardChunks / BackwardChunks (set on the calling thread).
    private ChunkItems _forwardItems, _backwardItems;

    /// <summary>Keras's class name, e.g. "Conv2D".</summary>
    public abstract string TypeName { get; }

    /// <summary>Keras's default name stem, e.g. "conv2d".</summary>
    public virtual string DefaultName => TypeName.ToLowerInvariant();

    /// <summary>Unique name in the model, e.g. "conv2d_1".</summary>
    public string Name { get; internal set; } = "";

    /// <summary>The shape of one input sample, set by <see cref="Build"/>.</summary>
    public Shape InputShape { get; private set; }
    /// <summary>The shape of one output sample, set by <see cref="Build"/>.</summary>
    public Shape OutputShape { get; private set; }
    /// <summary>True once <see cref="Build"/> has run.</summary>
    public bool IsBuilt { get; private set; }

    /// <summary>False for the first layer of a model: nothing needs the gradient of the data.</summary>
    public bool ComputeInputGradient { get; set; } = true;

    /// <summary>The trainable parameters, in the order the layer created them (e.g. kernel, then bias); empty before <see cref="Build"/>.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;
    /// <summary>The number of trainable values, summed over <see cref="Parameters"/>.</summary>
    public int ParameterCount => _parameters.Sum(p => p.Length);

    /// <summary>Non-trainable state saved with the model (e.g. moving statistics).</summary>
    public IReadOnlyList<LayerState> State => _state;
    /// <summary>The number of non-trainable values, summed over <see cref="State"/>.</summary>
    public int StateCount => _state.Sum(s => s.Values.Length);

    /// <summary>Output shape for an input shape; pure, and throws for an input this layer cannot take.</summary>
    public abstract Shape ComputeOutputShape(Shape input);

    /// <summary>Hyperparameters for the model file and the summary, e.g. "filters=32,kernel=3".</summary>
    public abstract IReadOnlyDictionary<string, string> Config { get; }

    /// <summary>
    /// The spec token that parses back to this layer, e.g. "conv32k3"; throws
    /// <see cref="NotSupportedException"/> when the spec language cannot say this layer's settings.
    /// </summary>
    public abstract string FormatToken();

    /// <summary>True when this layer's token joins the previous one with '-' in a spec (activations, normalisation: "conv32k3-relu").</summary>
    public virtual bool JoinsPreviousToken => false;

    /// <summary>
    /// The tensors this layer saves for <paramref name="input"/>, declared without building or
    /// allocating anything: PyTorch's state-dict suffixes and layouts, e.g. Conv2D's "weight"
    /// [out, in, kh, kw] and "bias" [out]. Together they hold every parameter and state value.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor would hold more values than one array can.</exception>
    public virtual IReadOnlyList<TensorDeclaration> DeclareTensors(Shape input) => [];

    /// <summary>Copies of this built layer's tensors, in <see cref="DeclareTensors"/>'s order and layouts (Keras's save_own_variables).</summary>
    public virtual float[][] SaveOwnTensors() => [];

    /// <summary>
    /// Sets this built layer's parameters and state from <paramref name="tensors"/>, given in
    /// <see cref="DeclareTensors"/>'s order, names and shapes (Keras's load_own_variables).
    /// </summary>
    public virtual void LoadOwnTensors(IReadOnlyList<float[]> tensors)
    {
    }

    /// <summary>
    /// Adds this built layer's inference computation to an ONNX graph whose values are NCHW
    /// (images [N, C, H, W], vectors [N, features]): reads the value <paramref name="input"/>,
    /// returns the name of the value it writes (Keras's save_own_variables, for ONNX). Nodes,
    /// attributes and initializers follow opset 13.
    /// </summary>
    /// <exception cref="NotSupportedException">This layer kind has no ONNX form.</exception>
    public virtual string ExportOnnx(OnnxGraphBuilder graph, string input) =>
        throw new NotSupportedException($"{TypeName} layers cannot be exported to ONNX.");

    /// <summary>
    /// Decides what this layer fuses with its neighbours (null: none, or fusion off). The model calls
    /// it for every layer whenever its layers change, never per batch; results stay bit-identical.
    /// </summary>
    protected internal virtual void PlanFusion(Layer? previous, Layer? next)
    {
    }

    /// <summary>
    /// <see cref="PlanFusion(Layer?, Layer?)"/> for a layer that looks one layer further, past its
    /// next (<paramref name="afterNext"/>, null when there is none or fusion is off); the model calls
    /// this one, which by default calls the two-neighbour form.
    /// </summary>
    protected internal virtual void PlanFusion(Layer? previous, Layer? next, Layer? afterNext) => PlanFusion(previous, next);

    /// <summary>
    /// Adds this built layer's part of an inference plan (Predict's fast path) to
    /// <paramref name="compiler"/>: a stage of its own, or something the previous stage takes in
    /// (a ReLU, an affine, a pool); false when it has none (Predict then runs layer by layer).
    /// </summary>
    internal virtual bool CompileInference(InferenceCompiler compiler) => false;

    /// <summary>True for a layer that can apply a following ReLU in its own output pass (a GEMM epilogue).</summary>
    protected internal virtual bool CanRectifyOutput => false;

    /// <summary>True for a layer whose Backward can also apply a preceding ReLU's mask (zero where its input is not positive).</summary>
    protected internal virtual bool CanRectifyInputGradient => false;

    /// <summary>
    /// Floats this layer's batch buffers hold for <paramref name="batch"/> samples of
    /// <paramref name="input"/> (output, input gradient and workspaces), estimated without allocating.
    /// </summary>
    public virtual long BufferValues(Shape input, int batch) => batch * (Values(input) + Values(ComputeOutputShape(input)));

    /// <summary>The values in one sample of <paramref name="shape"/>, without int overflow.</summary>
    protected static long Values(Shape shape) => (long)shape.Height * shape.Width * shape.Channels;

    /// <summary>The context given to <see cref="Build"/>; throws <see cref="InvalidOperationException"/> before it.</summary>
    protected LayerContext Context => _context ?? throw new InvalidOperationException($"Layer {Name} is not built.");

    /// <summary>The model's threads (the context's <see cref="LayerContext.Pool"/>); throws <see cref="InvalidOperationException"/> before <see cref="Build"/>.</summary>
    protected WorkerPool Pool => _context?.Pool ?? throw new InvalidOperationException($"Layer {Name} is not built.");

    /// <summary>
    /// Fixes the input shape, computes the output shape and creates the parameters and state
    /// (<see cref="OnBuild"/>) in the model's store. The model calls it when the layer is added.
    /// </summary>
    /// <param name="input">The shape of one input sample.</param>
    /// <param name="context">The model's buffers, threads and seed.</param>
    /// <exception cref="ArgumentException">This layer cannot take <paramref name="input"/> (from <see cref="ComputeOutputShape"/>).</exception>
    public void Build(Shape input, LayerContext context)
    {
        InputShape = input;
        OutputShape = ComputeOutputShape(input);
        _context = context;
        _parameters.Clear();
        _state.Clear();
        OnBuild(context);
        IsBuilt = true;
    }

    /// <summary>Creates parameters and initialises them from the layer's seeded stream.</summary>
    protected virtual void OnBuild(LayerContext context)
    {
    }

    /// <summary>Adds a zero-filled parameter named "&lt;layer name&gt;.<paramref name="name"/>" of <paramref name="shape"/> to the model's store and to <see cref="Parameters"/>; for <see cref="OnBuild"/>.</summary>
    protected Parameter AddParameter(LayerContext context, string name, params int[] shape)
    {
        var p = context.Parameters.Add($"{Name}.{name}", shape);
        _parameters.Add(p);
        return p;
    }

    /// <summary>Adds <paramref name="length"/> values of non-trainable state, each <paramref name="initial"/>, saved under the suffix <paramref name="name"/>; for <see cref="OnBuild"/>.</summary>
    protected LayerState AddState(string name, int length, float initial)
    {
        var values = new float[length];
        Array.Fill(values, initial);
        var state = new LayerState(name, values);
        _state.Add(state);
        return state;
    }

    /// <summary>The last Forward's input, x: [N, ...InputShape]; Backward reads it.</summary>
    protected Tensor? X { get; set; }

    /// <summary>The output buffer, y: [N, ...OutputShape], owned by this layer.</summary>
    protected Tensor? Y { get; private set; }

    /// <summary>The input-gradient buffer, dx: [N, ...InputShape], owned by this layer.</summary>
    protected Tensor? Dx { get; private set; }

    /// <summary>The last Backward's upstream gradient, dy: [N, ...OutputShape].</summary>
    protected Tensor? Dy { get; private set; }

    /// <summary>
    /// Allocates the output and input-gradient buffers for up to <paramref name="batch"/> samples
    /// (only when the current ones are smaller); layers with more buffers extend it.
    /// </summary>
    public virtual void EnsureCapacity(int batch)
    {
        Y = Reserve(Y, OutputShape, batch);
        if (ComputeInputGradient)
        {
            Dx = Reserve(Dx, InputShape, batch);
        }
    }

    /// <summary>Remembers dy for the chunk workers and sizes Dx to its batch (when the input gradient is wanted).</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(Dy))]
    protected void StartBackward(Tensor dy)
    {
        Dy = dy;
        Dx?.SetBatch(dy.Batch);
    }

    /// <summary>Checks x, makes room for its batch, remembers it for Backward and sizes Y to it.</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(X), nameof(Y))]
    protected void StartForward(Tensor x)
    {
        CheckInput(x);
        EnsureCapacity(x.Batch);
        X = x;
        Y = Y ?? throw new InvalidOperationException($"Layer {Name} has no output buffer.");
        Y.SetBatch(x.Batch);
    }

    /// <summary>Computes the output for <paramref name="x"/> into a buffer this layer owns.</summary>
    public abstract Tensor Forward(Tensor x, bool training);

    /// <summary>
    /// Given dL/dy for the last Forward, accumulates dL/dparameters and returns dL/dx
    /// (in a buffer this layer owns; null when <see cref="ComputeInputGradient"/> is false).
    /// </summary>
    public abstract Tensor? Backward(Tensor dy);

    /// <summary>
    /// Runs <see cref="ForwardChunk"/> over <see cref="X"/>'s batch on the model's threads: every
    /// chunk, in parts of <see cref="ForwardItemSamples"/> samples.
    /// </summary>
    protected void ForwardChunks()
    {
        _forwardItems = Items(X!.Batch, ForwardItemSamples, ForwardRunSamples);
        Pool.For(_forwardItems.Count, _forwardChunk);
    }

    /// <summary>
    /// Runs <see cref="BackwardChunk"/> over <see cref="Dy"/>'s batch on the model's threads: every
    /// chunk, in parts of <see cref="BackwardItemSamples"/> samples.
    /// </summary>
    protected void BackwardChunks()
    {
        _backwardItems = Items(Dy!.Batch, BackwardItemSamples, BackwardRunSamples);
        Pool.For(_backwardItems.Count, _backwardChunk);
    }

    /// <summary>
    /// Samples of a work item of <see cref="ForwardChunks"/>: a divisor of <see cref="Chunks.Size"/>
    /// (the whole chunk by default). Fewer when <see cref="ForwardChunk"/> treats each sample, or each
    /// run of that many, on its own with no buffer of the chunk's: a thread that finishes early then
    /// takes part of a chunk instead of waiting for the other at the end of the layer.
    /// </summary>
    protected virtual int ForwardItemSamples => Chunks.Size;

    /// <summary>As <see cref="ForwardItemSamples"/>, for <see cref="BackwardChunks"/>.</summary>
    protected virtual int BackwardItemSamples => Chunks.Size;

    /// <summary>
    /// Samples of the smallest run of a work item that <see cref="ForwardChunk"/> can take on its own
    /// and give the values the whole item gives (a divisor of <see cref="ForwardItemSamples"/>, which
    /// it is by default): on more than one thread the items where the threads meet are split into
    /// such runs (see <see cref="ChunkItems"/>).
    /// </summary>
    protected virtual int ForwardRunSamples => ForwardItemSamples;

    /// <summary>As <see cref="ForwardRunSamples"/>, for <see cref="BackwardChunks"/>.</summary>
    protected virtual int BackwardRunSamples => BackwardItemSamples;

    // A subclass's item or run size that ChunkItems refuses is this layer's bug: say which layer.
    private ChunkItems Items(int batch, int itemSamples, int runSamples)
    {
        try
        {
            return ChunkItems.Plan(batch, itemSamples, runSamples, Pool.ThreadCount);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidOperationException($"{Name}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The whole Backward of a layer without parameters whose input gradient is computed chunk by
    /// chunk: null when <see cref="ComputeInputGradient"/> is false, else <see cref="BackwardChunk"/>
    /// over every chunk of <paramref name="dy"/> into <see cref="Dx"/>.
    /// </summary>
    protected Tensor? BackwardInChunks(Tensor dy)
    {
        if (!ComputeInputGradient)
        {
            return null;
        }
        StartBackward(dy);
        BackwardChunks();
        return Dx;
    }

    /// <summary>The forward pass over samples [start, start + count) of X: chunk number <paramref name="chunk"/>, or a part of it (<see cref="ForwardItemSamples"/>, <see cref="ForwardRunSamples"/>).</summary>
    protected virtual void ForwardChunk(int chunk, int start, int count) => throw new NotSupportedException($"{TypeName} has no chunked forward pass.");

    /// <summary>The backward pass over samples [start, start + count) of Dy: chunk number <paramref name="chunk"/>, or a part of it (<see cref="BackwardItemSamples"/>, <see cref="BackwardRunSamples"/>).</summary>
    protected virtual void BackwardChunk(int chunk, int start, int count) => throw new NotSupportedException($"{TypeName} has no chunked backward pass.");

    private void RunForwardChunk(int item)
    {
        var (chunk, start, count) = _forwardItems[item];
        if (count > 0)
        {
            ForwardChunk(chunk, start, count);
        }
    }

    private void RunBackwardChunk(int item)
    {
        var (chunk, start, count) = _backwardItems[item];
        if (count > 0)
        {
            BackwardChunk(chunk, start, count);
        }
    }

    /// <summary><paramref name="current"/> when it holds at least <paramref name="batch"/> samples, else a new tensor of <paramref name="batch"/> samples of <paramref name="shape"/>: buffers only grow.</summary>
    protected static Tensor Reserve(Tensor? current, Shape shape, int batch)
        => current is not null && current.Capacity >= batch ? current : new Tensor(shape, batch);

    /// <summary>Throws <see cref="ArgumentException"/> when the sample shape of <paramref name="x"/> is not <see cref="InputShape"/>.</summary>
    protected void CheckInput(Tensor x)
    {
        if (x.Shape != InputShape)
        {
            throw new ArgumentException($"Layer {Name} expects input shape {InputShape}, got {x.Shape}.");
        }
    }
}
