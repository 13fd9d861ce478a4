// Package emulator is a thin cgo binding to the C API of TON's libemulator
// (the transaction and TVM emulators that ship inside the tongo module).
//
// It passes BOCs through as base64 strings, exactly what the C API takes and
// returns, and leaves TL-B decoding to the caller: decoding every result in
// Go is what made tongo's own wrapper slow, and the devnet only needs a few
// fields of most results.
package emulator

/*
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

void *transaction_emulator_create(const char *config_params_boc, int vm_log_verbosity);
bool transaction_emulator_set_unixtime(void *transaction_emulator, uint32_t unixtime);
bool transaction_emulator_set_lt(void *transaction_emulator, uint64_t lt);
bool transaction_emulator_set_rand_seed(void *transaction_emulator, const char* rand_seed_hex);
bool transaction_emulator_set_ignore_chksig(void *transaction_emulator, bool ignore_chksig);
bool transaction_emulator_set_libs(void *transaction_emulator, const char* libs_boc);
const char *transaction_emulator_emulate_transaction(void *transaction_emulator, const char *shard_account_boc, const char *message_boc);
void transaction_emulator_destroy(void *transaction_emulator);
bool emulator_set_verbosity_level(int verbosity_level);

void *emulator_config_create(const char *config_params_boc);
void emulator_config_destroy(void *config);

void *tvm_emulator_create(const char *code_boc, const char *data_boc, int vm_log_verbosity);
bool tvm_emulator_set_libraries(void *tvm_emulator, const char *libs_boc);
bool tvm_emulator_set_c7(void *tvm_emulator, const char *address, uint32_t unixtime, uint64_t balance, const char *rand_seed_hex, const char *config);
bool tvm_emulator_set_config_object(void* tvm_emulator, void* config);
bool tvm_emulator_set_gas_limit(void *tvm_emulator, int64_t gas_limit);
const char *tvm_emulator_run_get_method(void *tvm_emulator, int method_id, const char *stack_boc);
void tvm_emulator_destroy(void *tvm_emulator);
*/
import "C"

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	// The tongo package carries the linker flags that find libemulator.so
	// (-L and a run path into the module cache); `make build` replaces that
	// run path with one relative to the binary.
	_ "github.com/tonkeeper/tongo/txemulator"
)

var quietOnce sync.Once

// quiet silences the library's own logging, which otherwise prints every
// transaction to stderr. The setting is process-wide in the library.
func quiet() {
	quietOnce.Do(func() { C.emulator_set_verbosity_level(0) })
}

// TxEmulator emulates transactions under one blockchain config. It is not
// safe for concurrent use: the devnet runs one per block producer.
type TxEmulator struct {
	ptr unsafe.Pointer
}

// NewTxEmulator creates a transaction emulator for the config (base64 BOC of
// the ConfigParams dictionary root).
func NewTxEmulator(configB64 string) (*TxEmulator, error) {
	quiet()
	cfg := C.CString(configB64)
	defer C.free(unsafe.Pointer(cfg))
	p := C.transaction_emulator_create(cfg, 0)
	if p == nil {
		return nil, errors.New("creating transaction emulator: the library rejected the config")
	}
	return &TxEmulator{ptr: p}, nil
}

// Close frees the emulator.
func (e *TxEmulator) Close() {
	if e.ptr != nil {
		C.transaction_emulator_destroy(e.ptr)
		e.ptr = nil
	}
}

// SetUnixtime sets the block time the next transactions see.
func (e *TxEmulator) SetUnixtime(t uint32) error {
	if !C.transaction_emulator_set_unixtime(e.ptr, C.uint32_t(t)) {
		return errors.New("setting emulator unixtime")
	}
	return nil
}

// SetLT sets the logical time of the next transaction.
func (e *TxEmulator) SetLT(lt uint64) error {
	if !C.transaction_emulator_set_lt(e.ptr, C.uint64_t(lt)) {
		return errors.New("setting emulator logical time")
	}
	return nil
}

// SetRandSeed sets the block random seed contracts see through RANDSEED.
func (e *TxEmulator) SetRandSeed(seed [32]byte) error {
	s := C.CString(hex.EncodeToString(seed[:]))
	defer C.free(unsafe.Pointer(s))
	if !C.transaction_emulator_set_rand_seed(e.ptr, s) {
		return errors.New("setting emulator random seed")
	}
	return nil
}

// SetIgnoreChksig makes CHKSIG always succeed; used only for fee estimates.
func (e *TxEmulator) SetIgnoreChksig(ignore bool) error {
	if !C.transaction_emulator_set_ignore_chksig(e.ptr, C.bool(ignore)) {
		return errors.New("setting emulator signature checks")
	}
	return nil
}

// SetLibs sets the public libraries transactions can load: a base64 BOC of
// a HashmapE 256 ^Cell (library hash → library root cell).
func (e *TxEmulator) SetLibs(libsB64 string) error {
	s := C.CString(libsB64)
	defer C.free(unsafe.Pointer(s))
	if !C.transaction_emulator_set_libs(e.ptr, s) {
		return errors.New("setting emulator libraries: the library rejected the dictionary")
	}
	return nil
}

// TxResult is the outcome of one emulated transaction.
type TxResult struct {
	// Success is false when no transaction could be made: typically an
	// external message the contract did not accept.
	Success bool   `json:"success"`
	Error   string `json:"error"`
	// ExitCode is the compute phase exit code of a refused external
	// message; nil when it was refused before the contract ran.
	ExitCode *int   `json:"vm_exit_code"`
	VMLog    string `json:"vm_log"`
	// Transaction and ShardAccount are base64 BOCs of the new transaction
	// and of the account's new ShardAccount.
	Transaction  string `json:"transaction"`
	ShardAccount string `json:"shard_account"`
}

// Emulate runs one transaction of the account (base64 ShardAccount BOC) on an
// inbound message (base64 Message BOC).
func (e *TxEmulator) Emulate(shardAccountB64, messageB64 string) (*TxResult, error) {
	acc := C.CString(shardAccountB64)
	defer C.free(unsafe.Pointer(acc))
	msg := C.CString(messageB64)
	defer C.free(unsafe.Pointer(msg))
	out := C.transaction_emulator_emulate_transaction(e.ptr, acc, msg)
	if out == nil {
		return nil, errors.New("emulating transaction: the library returned nothing")
	}
	defer C.free(unsafe.Pointer(out))
	var r TxResult
	if err := json.Unmarshal([]byte(C.GoString(out)), &r); err != nil {
		return nil, fmt.Errorf("decoding emulator result: %w", err)
	}
	return &r, nil
}

// Config is a parsed blockchain config shared by get-method runs.
type Config struct {
	ptr unsafe.Pointer
	b64 string
}

// NewConfig parses the config once so that each get-method does not.
func NewConfig(configB64 string) (*Config, error) {
	quiet()
	s := C.CString(configB64)
	defer C.free(unsafe.Pointer(s))
	p := C.emulator_config_create(s)
	if p == nil {
		return nil, errors.New("parsing blockchain config: the library rejected it")
	}
	return &Config{ptr: p, b64: configB64}, nil
}

// Close frees the config.
func (c *Config) Close() {
	if c.ptr != nil {
		C.emulator_config_destroy(c.ptr)
		c.ptr = nil
	}
}

// GetMethodCall is one get-method run against an account's state.
type GetMethodCall struct {
	Code, Data string // base64 BOCs
	Address    string // raw form "0:hex"
	Unixtime   uint32
	Balance    uint64
	RandSeed   [32]byte
	MethodID   int
	Stack      string // base64 BOC of the VmStack
	GasLimit   int64  // 0 means the library default
	Libs       string // base64 BOC of the public libraries dictionary, or ""
}

// GetMethodResult is the outcome of a get-method run.
type GetMethodResult struct {
	Success  bool        `json:"success"`
	Error    string      `json:"error"`
	ExitCode int         `json:"vm_exit_code"`
	VMLog    string      `json:"vm_log"`
	Stack    string      `json:"stack"`
	GasUsed  json.Number `json:"gas_used"`
	// MissingLibrary is the hash of a library cell the code needed but the
	// emulator did not have.
	MissingLibrary *string `json:"missing_library"`
}

// RunGetMethod runs a get-method with the account's real address, balance
// and time in c7. It is safe for concurrent use: each call has its own VM.
func (c *Config) RunGetMethod(call GetMethodCall) (*GetMethodResult, error) {
	code := C.CString(call.Code)
	defer C.free(unsafe.Pointer(code))
	data := C.CString(call.Data)
	defer C.free(unsafe.Pointer(data))
	vm := C.tvm_emulator_create(code, data, 0)
	if vm == nil {
		return nil, errors.New("creating TVM: the library rejected the code or data BOC")
	}
	defer C.tvm_emulator_destroy(vm)

	addr := C.CString(call.Address)
	defer C.free(unsafe.Pointer(addr))
	seed := C.CString(hex.EncodeToString(call.RandSeed[:]))
	defer C.free(unsafe.Pointer(seed))
	// c7 is built from the config object set below; passing the config BOC
	// here as well would make the library parse it once more per call.
	if !C.tvm_emulator_set_c7(vm, addr, C.uint32_t(call.Unixtime), C.uint64_t(call.Balance), seed, nil) {
		return nil, fmt.Errorf("setting c7 for %s", call.Address)
	}
	if !C.tvm_emulator_set_config_object(vm, c.ptr) {
		return nil, errors.New("setting the TVM config")
	}
	if call.Libs != "" {
		libs := C.CString(call.Libs)
		defer C.free(unsafe.Pointer(libs))
		if !C.tvm_emulator_set_libraries(vm, libs) {
			return nil, errors.New("setting the TVM libraries")
		}
	}
	if call.GasLimit > 0 && !C.tvm_emulator_set_gas_limit(vm, C.int64_t(call.GasLimit)) {
		return nil, errors.New("setting the TVM gas limit")
	}
	stack := C.CString(call.Stack)
	defer C.free(unsafe.Pointer(stack))
	out := C.tvm_emulator_run_get_method(vm, C.int(call.MethodID), stack)
	if out == nil {
		return nil, errors.New("running get-method: the library returned nothing")
	}
	defer C.free(unsafe.Pointer(out))
	var r GetMethodResult
	if err := json.Unmarshal([]byte(C.GoString(out)), &r); err != nil {
		return nil, fmt.Errorf("decoding get-method result: %w", err)
	}
	return &r, nil
}
