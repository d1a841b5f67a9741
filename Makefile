# tcplua build. `make` builds ./tcplua and build/libtcplua.so (the core,
# loaded by the specs through LuaJIT's FFI); `make test` runs the specs;
# `make test SANITIZE=1` builds into build-san/ with ASan+UBSan and runs the
# same specs against that build. SPECS=spec/unit (files or directories)
# runs a part.

PREFIX ?= /usr/local
CC ?= cc
PKGS := luajit libmnl libsodium

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
else
BUILD ?= build
SAN :=
OPT := -O2
endif

CFLAGS ?= $(OPT) -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -fPIC -D_GNU_SOURCE $(SAN) \
          $(shell pkg-config --cflags $(PKGS))
LDLIBS := $(shell pkg-config --libs $(PKGS)) -lev -lm

# The core's folders are its floors (core/floors.mk). core/host/ is only
# the binary's (the Lua host, the event loop, the CLI); the rest is the
# library.
include core/floors.mk
BIN_SRCS := $(wildcard core/host/*.c)
LIB_SRCS := $(foreach f,$(LIB_FLOORS),$(wildcard core/$(f)/*.c))
LIB_OBJS := $(LIB_SRCS:core/%.c=$(BUILD)/obj/%.o)
BIN_OBJS := $(BIN_SRCS:core/%.c=$(BUILD)/obj/%.o)
CORE_HDRS := $(foreach f,$(ALL_FLOOR_DIRS),$(wildcard core/$(f)/*.h core/$(f)/*.def))
API_HDRS := core/include/api.h $(sort $(filter-out core/include/api.h, $(wildcard core/include/api_*.h)))
# What the FFI sees (tcplua.h says how it is made): the exported API, and
# the support pieces specs drive directly.
FFI_HDRS := $(API_HDRS) core/wire/seq.h core/wire/tcp_wire.h core/wire/udp_wire.h core/storage/ring.h core/storage/assembler.h \
            core/tcp/isn.h
# -I flags of the floor a source (core/<floor>/x.c, $* = <floor>/x) sits in.
floor_inc = $(addprefix -Icore/,$(FLOOR_$(patsubst %/,%,$(dir $(1)))))
CDEF := $(BUILD)/lua/tcplua/cdef.lua

.PHONY: all test fuzz bench install uninstall clean format
all: $(BUILD)/libtcplua.so $(BUILD)/tcplua $(CDEF) $(BUILD)/floors.ok $(if $(SAN),,tcplua)

$(BUILD)/obj/%.o: core/%.c $(CORE_HDRS) core/floors.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call floor_inc,$*) -c -o $@ $<

# The floors hold in the code: every #include and every symbol an object
# takes from another stays within what core/floors.mk allows its floor.
$(BUILD)/floors.ok: scripts/floors $(LIB_OBJS) $(BIN_OBJS)
	scripts/floors $(BUILD)/obj
	touch $@

$(BUILD)/libtcplua.so: $(LIB_OBJS)
	$(CC) $(CFLAGS) -shared -o $@ $^ $(LDLIBS)

# -rdynamic exports the core's symbols so scripts reach them through ffi.C.
$(BUILD)/tcplua: $(LIB_OBJS) $(BIN_OBJS)
	$(CC) $(CFLAGS) -rdynamic -o $@ $^ $(LDLIBS)

tcplua: $(BUILD)/tcplua
	cp $< $@

# The FFI declarations are generated from the C headers so the two never
# drift: the preprocessor with TL_FFI set (core/include/tcplua.h).
$(CDEF): $(FFI_HDRS) core/include/tcplua.h core/include/config.def
	mkdir -p $(dir $@)
	{ echo '-- generated from $(FFI_HDRS) by make; do not edit'; \
	  echo 'return [==['; \
	  $(CC) -E -P -DTL_FFI $(addprefix -Icore/,$(ALL_FLOOR_DIRS)) $(addprefix -include ,$(FFI_HDRS)) -x c /dev/null; \
	  echo ']==]'; } > $@.tmp
	mv $@.tmp $@

# SPECS narrows the run (files or directories), e.g. SPECS=spec/unit.
test: all
	SANITIZE=$(SANITIZE) TCPLUA_BUILD=$(BUILD) scripts/test $(SPECS)

fuzz:
	$(MAKE) -C fuzz run

# The bench runs even when the build fails: its report then says why each
# tcplua figure is missing, and the kernel figures are still taken.
bench:
	-$(MAKE) all
	scripts/bench

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tcplua/lua/tcplua
	install -m 755 $(BUILD)/tcplua $(DESTDIR)$(PREFIX)/bin/tcplua
	install -m 644 lua/*.lua $(DESTDIR)$(PREFIX)/share/tcplua/lua/
	install -m 644 lua/tcplua/*.lua $(CDEF) $(DESTDIR)$(PREFIX)/share/tcplua/lua/tcplua/
	install -d $(DESTDIR)$(PREFIX)/share/tcplua/lua/tcplua/c $(DESTDIR)$(PREFIX)/share/tcplua/lua/tcplua/fault
	install -m 644 lua/tcplua/c/*.lua $(DESTDIR)$(PREFIX)/share/tcplua/lua/tcplua/c/
	install -m 644 lua/tcplua/fault/*.lua $(DESTDIR)$(PREFIX)/share/tcplua/lua/tcplua/fault/

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/tcplua $(DESTDIR)$(PREFIX)/share/tcplua

clean:
	rm -rf build build-san tcplua fuzz/build

format:
	clang-format -i $(LIB_SRCS) $(BIN_SRCS) $(CORE_HDRS:%.def=)
